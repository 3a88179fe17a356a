"""The gate routes by language, judges text without PII, runs the harm check on replies only, and batches."""

from __future__ import annotations

from collections.abc import Sequence

from bot.language import LanguageGuess
from bot.moderation.gate import GatePolicy, ModerationGate
from bot.moderation.wordlists import WordLists


class CountingScorer:
    """Scores 0.9 when a marker occurs (else 0.1) and records every batch it was given."""

    def __init__(self, marker: str, name: str = "fake", threshold: float = 0.5) -> None:
        self.marker = marker
        self.name = name
        self.threshold = threshold
        self.batches: list[list[str]] = []

    def score(self, text: str) -> float:
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        self.batches.append(list(texts))
        return [0.9 if self.marker in text else 0.1 for text in texts]


class ScriptDetector:
    """A predictable stand-in for the shared detector: Han characters are zh, a leading '¿' es, else en."""

    def detect(self, text: str) -> LanguageGuess:
        if any("\u4e00" <= char <= "\u9fff" for char in text):
            return LanguageGuess("zh", 1.0, True)
        if text.startswith("¿"):
            return LanguageGuess("es", 0.9, True)
        if text.startswith("~"):
            return LanguageGuess("es", 0.4, True)
        return LanguageGuess("en", 0.9, True)


def make_gate() -> tuple[ModerationGate, CountingScorer, CountingScorer, CountingScorer]:
    english = CountingScorer("jerk")
    chinese = CountingScorer("傻", name="cold-char-lr")
    harm = CountingScorer("detonator")
    gate = ModerationGate(
        GatePolicy(offensive_threshold=0.5, input_flag_threshold=0.5, harm_threshold=0.5),
        offensive=english,
        harm=harm,
        language_models={"zh": chinese},
        word_lists=WordLists({"es": ["cabrón"]}),
        detector=ScriptDetector(),
    )
    return gate, english, chinese, harm


def test_each_language_goes_to_its_own_judge_and_the_decision_names_it() -> None:
    gate, english, chinese, _ = make_gate()
    zh, es, en = gate.check_outputs(["你这个傻子别说话了", "¿Por qué eres tan cabrón?", "you are a total jerk today"])
    assert zh.blocked and {"offensive", "lang:zh", "model:cold-char-lr"} <= set(zh.reasons)
    assert zh.language == "zh" and "cold-char-lr" in zh.judged_by
    assert es.blocked and {"wordlist:es", "lang:es"} <= set(es.reasons)
    assert en.blocked and "model:olid-minilm" in en.reasons
    assert english.batches == [["¿Por qué eres tan cabrón?", "you are a total jerk today"]]
    assert chinese.batches == [["你这个傻子别说话了"]]


def test_a_batch_is_one_pass_per_model_and_keeps_input_order() -> None:
    gate, english, _, harm = make_gate()
    texts = ["hello there my friend", "what a jerk you are", "our shop opens at nine tomorrow"]
    decisions = gate.check_outputs(texts)
    assert [decision.blocked for decision in decisions] == [False, True, False]
    assert len(english.batches) == 1 and len(harm.batches) == 1


def test_pii_is_taken_out_before_judging_and_only_redacted() -> None:
    flags_digits = CountingScorer("4111")
    gate = ModerationGate(GatePolicy(harm_threshold=0.5), harm=flags_digits, offensive=CountingScorer("jerk"))
    decision = gate.check_output("Your card 4111 1111 1111 1111 was charged, IBAN DE89 3704 0044 0532 0130 00.")
    assert decision.action == "redact"
    assert set(decision.reasons) == {"pii:card", "pii:iban"}
    assert all("4111" not in text for batch in flags_digits.batches for text in batch)


def test_the_harm_check_judges_replies_never_user_messages() -> None:
    gate, _, _, harm = make_gate()
    assert gate.check_output("attach the detonator to the timer like this").blocked
    assert not gate.check_input("attach the detonator to the timer like this").blocked
    assert len(harm.batches) == 1


def test_a_listed_language_is_judged_by_its_word_list_and_the_english_model() -> None:
    gate, english, _, _ = make_gate()
    sure, unsure = gate.check_inputs(["¿Eres un jerk?", "~you are such a jerk"])
    assert sure.blocked and sure.judged_by == ("wordlist:es", "olid-minilm")
    assert unsure.blocked and unsure.judged_by == ("wordlist:es", "olid-minilm")
    assert english.batches == [["¿Eres un jerk?", "~you are such a jerk"]]


class ConfidentlyGermanDetector:
    """Says every text is German with high confidence, as lingua does for "@USER @USER YEEEEESS"."""

    def detect(self, text: str) -> LanguageGuess:
        return LanguageGuess("de", 0.95, True)


def test_an_english_insult_guessed_as_a_listed_language_still_meets_the_english_model() -> None:
    english = CountingScorer("jerk")
    gate = ModerationGate(
        GatePolicy(offensive_threshold=0.5),
        offensive=english,
        word_lists=WordLists({"de": ["arschloch"]}),
        detector=ConfidentlyGermanDetector(),
    )
    short, long, kind = gate.check_outputs(
        ["@USER @USER jerk!! URL", "what a jerk you are, honestly, every day", "du bist ein netter Mensch heute"]
    )
    assert short.blocked and "model:olid-minilm" in short.reasons
    assert long.blocked and long.judged_by == ("wordlist:de", "olid-minilm")
    assert not kind.blocked
    assert len(english.batches) == 1


def test_an_english_text_with_one_han_character_is_judged_by_the_english_model() -> None:
    gate, english, chinese, _ = make_gate()
    decision = gate.check_output("( ▔皿▔ ) you are such a jerk, honestly")
    assert decision.blocked and "model:olid-minilm" in decision.reasons
    assert chinese.batches == []
    assert english.batches == [["( ▔皿▔ ) you are such a jerk, honestly"]]
