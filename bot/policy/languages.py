"""The language a turn is answered in: the message's own when the detector is sure (a short message is read with
the conversation's language so far as a prior), else the conversation's last reliable one, else a hint from the
small-talk example it matched ("hola"), else the configured default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.language import LanguageDetector, default_detector
from bot.store import Store

STATE_KEY = "language:conversation:{conversation_id}"


@dataclass(frozen=True)
class TurnLanguage:
    """The chosen language and where it came from ("detected", "conversation", "small_talk", "default")."""

    code: str
    origin: str


class ConversationLanguages:
    """Chooses each turn's language and remembers the last reliable one per conversation (in the store)."""

    def __init__(self, store: Store, default: str = "en", detector: LanguageDetector | None = None) -> None:
        self.store = store
        self.default = default
        self.detector = detector or default_detector()

    def resolve(self, conversation_id: int, text: str, hints: Sequence[str] = ()) -> TurnLanguage:
        """The language of `text` in this conversation; a reliable detection is remembered for later turns."""
        key = STATE_KEY.format(conversation_id=conversation_id)
        last = self.store.get_state(key)
        # A short message the detector cannot tell from the conversation's language so far (on a first message,
        # the configured default) keeps that language.
        guess = self.detector.detect(text, prior=last or self.default) if text.strip() else None
        # Small talk is short: when its examples name languages, a detection outside them is noise ("hallo").
        if guess is not None and guess.reliable and (not hints or guess.code in hints):
            self.store.set_state(key, guess.code)
            return TurnLanguage(guess.code, "detected")
        if last and (not hints or last in hints):
            return TurnLanguage(last, "conversation")
        if len(hints) == 1:
            self.store.set_state(key, hints[0])
            return TurnLanguage(hints[0], "small_talk")
        if hints and self.default in hints:
            return TurnLanguage(self.default, "default")
        if last:
            return TurnLanguage(last, "conversation")
        return TurnLanguage(self.default, "default")
