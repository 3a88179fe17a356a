"""socialbot core: conversation manager, store, engine and moderation. Knows no platform."""

__version__ = "0.1.0"
