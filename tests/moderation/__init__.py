"""Tests of the moderation classifiers, harm check, evaluation and gate."""
