"""Moderation: the gate that checks incoming messages and bot replies (rules, PII, classifiers)."""
