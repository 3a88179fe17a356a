"""The moderation gate every outgoing text passes, and every incoming text is flagged by.

It combines cheap rules (blocklist, regexes, secrets, system-prompt leaks, links outside the allowlist), PII
redaction and trained classifiers into one `ModerationDecision`: allow, redact (text changed) or block.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import re2

from bot.moderation.pii import redact_pii, remove_pii

if TYPE_CHECKING:
    from bot.language import LanguageGuess
    from bot.moderation.reply_probe import ReplyFeatureSource

log = logging.getLogger(__name__)

Action = Literal["allow", "redact", "block"]
Strictness = Literal["relaxed", "normal", "strict"]

# Token-shaped strings: Telegram bot tokens, Discord bot tokens, OpenAI-style keys, long hex/base64 secrets.
SECRET_PATTERNS = (
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),
    re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"\b(?:ghp|gho|xox[abp])_?[A-Za-z0-9-]{20,}\b"),
)
LINK = re.compile(r"(?i)\b(?:https?://|www\.)([a-z0-9.-]+\.[a-z]{2,})(?:[/?#][^\s<>\"]*)?")
WORD = re.compile(r"\w+")
# Code-like words (mixing letters and digits, 8+ characters) in a protected text: keys, discount codes, ids.
CODE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]{7,}\b")
# A reply repeating this many consecutive words of the system prompt (or another protected text) leaks it.
LEAK_SHINGLE = 8
MENTION_ALL = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
# The Chinese model judges a text alone only when Han characters are this share of its letters; an English tweet
# with one Han character in an emoticon ("( ▰ ▔皿▔ )") goes to the English model.
CHINESE_MIN_SHARE = 0.3


class TextScorer(Protocol):
    """A classifier returning the probability that a text belongs to its harmful class."""

    def score(self, text: str) -> float: ...


class BatchTextScorer(TextScorer, Protocol):
    """A classifier that scores many texts in one model pass."""

    def score_batch(self, texts: Sequence[str]) -> list[float]: ...


class PairScorer(TextScorer, Protocol):
    """A harm check that can also judge a reply together with the request that prompted it."""

    @property
    def pair_threshold(self) -> float | None: ...

    def score_pairs(self, requests: Sequence[str], replies: Sequence[str]) -> list[float]: ...


class DeepPairScorer(Protocol):
    """The harm check's language-model stage (``bot.moderation.reply_probe.DeepHarmCheck``): pairs scored with
    the generating model's hidden states of the reply; pairs whose request factor is below ``threshold`` unread."""

    @property
    def threshold(self) -> float: ...

    def score_pairs(
        self, requests: Sequence[str], replies: Sequence[str], source: ReplyFeatureSource, threshold: float
    ) -> list[float]: ...


class LanguageScorer(BatchTextScorer, Protocol):
    """A classifier for one language's offensive texts, carrying its own calibrated threshold and name."""

    name: str
    threshold: float


class LanguageGuesser(Protocol):
    """The shared language detector (``bot.language.LanguageDetector``)."""

    def detect(self, text: str) -> LanguageGuess: ...


class WordMatcher(Protocol):
    """Per-language word lists (``bot.moderation.wordlists.WordLists``)."""

    def covers(self, language: str) -> bool: ...

    def match(self, language: str, text: str) -> str | None: ...


@dataclass(frozen=True)
class ModerationDecision:
    """What the gate decided about one text, with every reason and score, for storage and review.

    ``language`` is the language the text was judged in and ``judged_by`` names the models and lists that
    judged it (a flagged decision also carries them in ``reasons`` as ``lang:<code>`` and ``model:<name>``).
    """

    action: Action
    text: str
    reasons: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    language: str = ""
    judged_by: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def flagged(self) -> bool:
        return self.action != "allow"


@dataclass(frozen=True)
class GatePolicy:
    """Tunable rules of the gate (from the `[moderation]` config section)."""

    blocklist: tuple[str, ...] = ()
    block_patterns: tuple[str, ...] = ()
    redact_pii: bool = True
    offensive_threshold: float = 0.8
    input_flag_threshold: float = 0.7
    harm_threshold: float = 0.5
    # Threshold of the harm check's pair mode (reply judged with its request); None: the scorer's own.
    harm_pair_threshold: float | None = None
    link_allowlist: tuple[str, ...] = ()
    fallback_reply: str = "Sorry, I can't help with that here."


STRICTNESS_FACTORS: dict[Strictness, float] = {"relaxed": 1.15, "normal": 1.0, "strict": 0.7}
ENGLISH_MODEL = "olid-minilm"
HARM_MODEL = "harm"
HARM_PAIR_MODEL = "harm-pair"
HARM_LM_MODEL = "harm-lm"


@dataclass
class _Judgement:
    """Working state of one text while a batch is judged."""

    text: str
    judged: str
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    judged_by: list[str] = field(default_factory=list)
    language: str = "en"
    confidence: float = 1.0
    triggered: set[str] = field(default_factory=set)
    request: str = ""
    generated: bool = False


def scores_of(scorer: TextScorer, texts: Sequence[str]) -> list[float]:
    """One model pass when the scorer batches, else one call per text."""
    if not texts:
        return []
    batch = getattr(scorer, "score_batch", None)
    if batch is not None:
        return [float(value) for value in batch(list(texts))]
    return [float(scorer.score(text)) for text in texts]


class ModerationGate:
    """Decides allow/redact/block for outputs and flags inputs; pure CPU work, call it off the event loop.

    Order for every text: rules on the raw text (blocklist, patterns, secrets, prompt leaks); PII is found and
    taken out, so classifiers judge the text without it and personal data never blocks; the language is detected
    and the text goes to that language's judge (English and unreliable guesses: the OLID classifier; Chinese: the
    COLD classifier; languages with a word list: the list and the English model;
    other languages: the English model); the harm check judges outputs only (it was trained on
    model replies, and a user's "hi" is nobody's harmful compliance). Replies the model generated, with their
    request, go to the harm check's language-model stage when one is given with a ``ReplyFeatureSource`` (the
    engine's own hidden states of the reply); every other text keeps pair mode or the reply-only model.
    """

    def __init__(
        self,
        policy: GatePolicy,
        offensive: TextScorer | None = None,
        harm: TextScorer | None = None,
        extra_offensive: TextScorer | None = None,
        protected_texts: Sequence[str] = (),
        language_models: Mapping[str, LanguageScorer] | None = None,
        word_lists: WordMatcher | None = None,
        detector: LanguageGuesser | None = None,
        deep_harm: DeepPairScorer | None = None,
        reply_features: ReplyFeatureSource | None = None,
    ) -> None:
        self.policy = policy
        self.deep_harm = deep_harm
        self.reply_features = reply_features
        self._deep_failed = False  # logged once: a model without readable layers fails on every reply
        self.offensive = offensive
        self.harm = harm
        self.extra_offensive = extra_offensive
        self.language_models = dict(language_models or {})
        self.word_lists = word_lists
        self._detector = detector
        self._blocklist = (
            re2.compile(r"(?i)\b(?:" + "|".join(re.escape(word) for word in policy.blocklist) + r")\b")
            if policy.blocklist
            else None
        )
        self._patterns = [re2.compile(pattern) for pattern in policy.block_patterns]
        self._protected = [_normalise(text) for text in protected_texts if len(text) >= 40]
        self._protected_shingles: set[str] = set().union(*(shingles(text) for text in self._protected))
        self._protected_codes: set[str] = {code for text in protected_texts for code in CODE.findall(text)}

    def set_bulk(self, enabled: bool) -> None:
        """Bulk moderation: classifiers that can trade a little precision for speed on big batches do so
        (the OLID model runs batches in bfloat16 on AMX CPUs); the bot's one-reply checks never need it."""
        for scorer in (self.offensive, self.extra_offensive):
            if scorer is not None and hasattr(scorer, "bfloat16_batches"):
                scorer.bfloat16_batches = enabled

    def protect(self, text: str) -> None:
        """Register a text (system prompt, config) whose verbatim leak blocks a reply."""
        if len(text) >= 40:
            self._protected.append(_normalise(text))
            self._protected_shingles |= shingles(text)
        self._protected_codes |= set(CODE.findall(text))

    def _threshold(self, base: float, strictness: Strictness) -> float:
        return min(0.99, base * STRICTNESS_FACTORS[strictness])

    def _rule_reasons(self, text: str) -> list[str]:
        reasons = []
        if self._blocklist is not None and self._blocklist.search(text):
            reasons.append("blocklist")
        for index, pattern in enumerate(self._patterns):
            if pattern.search(text):
                reasons.append(f"pattern:{index}")
        return reasons

    def _languages(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """Language and confidence of each text, in one call to the detector for the batch."""
        if self._detector is None and not self.language_models and self.word_lists is None:
            return [("en", 1.0)] * len(texts)
        detector = self._detector
        if detector is None:
            from bot.language import default_detector

            detector = self._detector = default_detector()
        many = getattr(detector, "detect_many", None)
        guesses = many(texts) if many is not None else [detector.detect(text) for text in texts]
        return [(guess.code, guess.confidence) for guess in guesses]

    def _judge_offensive(self, items: Sequence[_Judgement], base_threshold: float, strictness: Strictness) -> None:
        """Route each text to its language's judge, one model pass per judge.

        The English model judges every text that no language model takes whole, word-list languages too (a
        confident French guess for an English insult cost the gate a tweet on OLID; on ordinary Spanish,
        French, German, Italian and Portuguese tweets the English model flags 0-3%, about what the lists
        flag): so on English data the gate flags at least what its English model flags.
        """
        english: list[_Judgement] = []
        by_model: dict[str, list[_Judgement]] = {}
        judged = [item for item in items if item.judged.strip()]
        for item, (language, confidence) in zip(judged, self._languages([i.judged for i in judged]), strict=True):
            item.language, item.confidence = language, confidence
            if item.language in self.language_models and _owned_by_language_model(item.language, item.judged):
                by_model.setdefault(item.language, []).append(item)
                continue
            listed = self.word_lists is not None and self.word_lists.covers(item.language)
            if listed and self.word_lists is not None:
                item.judged_by.append(f"wordlist:{item.language}")
                if self.word_lists.match(item.language, item.judged) is not None:
                    item.reasons.append(f"wordlist:{item.language}")
                    item.scores[f"offensive_wordlist_{item.language}"] = 1.0
                    item.triggered.add(f"wordlist:{item.language}")
            english.append(item)
        for language, group in by_model.items():
            model = self.language_models[language]
            threshold = self._threshold(model.threshold, strictness)
            for item, value in zip(group, scores_of(model, [item.judged for item in group]), strict=True):
                item.judged_by.append(model.name)
                item.scores[f"offensive_{language}"] = round(value, 4)
                if value >= threshold:
                    item.reasons.append("offensive")
                    item.triggered.add(model.name)
        for scorer, key in ((self.offensive, "offensive"), (self.extra_offensive, "hf_offensive")):
            if scorer is None or not english:
                continue
            name = ENGLISH_MODEL if key == "offensive" else "hf-model"
            threshold = self._threshold(base_threshold, strictness)
            for item, value in zip(english, scores_of(scorer, [item.judged for item in english]), strict=True):
                item.judged_by.append(name)
                item.scores[key] = round(value, 4)
                if value >= threshold:
                    item.reasons.append(key)
                    item.triggered.add(name)

    def _pair_threshold(self) -> float | None:
        if self.policy.harm_pair_threshold is not None:
            return self.policy.harm_pair_threshold
        value = getattr(self.harm, "pair_threshold", None)
        return None if value is None else float(value)

    def _judge_harm(self, items: Sequence[_Judgement], strictness: Strictness) -> None:
        """Generated replies with their request go to the language-model stage (when given), other replies with
        a request to pair mode (when the scorer has it), the rest reply-only."""
        if self.harm is None:
            return
        judged = [item for item in items if item.judged.strip()]
        pair_base = self._pair_threshold()
        score_pairs = getattr(self.harm, "score_pairs", None)
        pair_mode = pair_base is not None and score_pairs is not None
        deep = [item for item in judged if pair_mode and item.request and item.generated] if self._deep_on() else []
        if deep and not self._judge_deep(deep, strictness):
            deep = []
        by_model = {id(item) for item in deep}
        paired = [item for item in judged if pair_mode and item.request and id(item) not in by_model]
        alone = [item for item in judged if not (pair_mode and item.request)]
        if paired and score_pairs is not None and pair_base is not None:
            threshold = self._threshold(pair_base, strictness)
            values = score_pairs([item.request for item in paired], [item.judged for item in paired])
            for item, value in zip(paired, values, strict=True):
                self._harm_verdict(item, "harm_pair", HARM_PAIR_MODEL, float(value), threshold)
        threshold = self._threshold(self.policy.harm_threshold, strictness)
        for item, value in zip(alone, scores_of(self.harm, [item.judged for item in alone]), strict=True):
            self._harm_verdict(item, "harm", HARM_MODEL, value, threshold)

    def _deep_on(self) -> bool:
        return self.deep_harm is not None and self.reply_features is not None

    def _judge_deep(self, items: Sequence[_Judgement], strictness: Strictness) -> bool:
        """The language-model stage on generated replies; False (pair mode judges them) when the source fails.

        Its threshold moves with a configured `harm_threshold` by the same factor as pair mode's.
        """
        assert self.deep_harm is not None and self.reply_features is not None
        calibrated_pair = getattr(self.harm, "pair_threshold", None)
        pair_base = self._pair_threshold()
        moved = pair_base / float(calibrated_pair) if calibrated_pair and pair_base is not None else 1.0
        threshold = self._threshold(min(1.0, self.deep_harm.threshold * moved), strictness)
        try:
            values = self.deep_harm.score_pairs(
                [item.request for item in items], [item.judged for item in items], self.reply_features, threshold
            )
        except Exception as exc:  # an engine that stopped or a model without readable layers: pair mode
            if not self._deep_failed:
                log.warning("harm check's language-model stage unavailable (%s); pair mode judges replies", exc)
            self._deep_failed = True
            return False
        model = f"{HARM_LM_MODEL}:{self.reply_features.name}"
        for item, value in zip(items, values, strict=True):
            self._harm_verdict(item, "harm_lm", model, float(value), threshold)
        return True

    @staticmethod
    def _harm_verdict(item: _Judgement, key: str, model: str, value: float, threshold: float) -> None:
        item.judged_by.append(model)
        item.scores[key] = round(value, 4)
        if value >= threshold:
            item.reasons.append("harmful")
            item.triggered.add(model)

    def _start(self, texts: Sequence[str]) -> list[_Judgement]:
        items = []
        for text in texts:
            judged = remove_pii(text)
            items.append(_Judgement(text, judged, self._rule_reasons(text)))
        return items

    @staticmethod
    def _explained(item: _Judgement) -> tuple[str, ...]:
        """The reasons, plus which language and models made a classifier or list flag it."""
        if not item.triggered:
            return tuple(item.reasons)
        return (*item.reasons, f"lang:{item.language}", *(f"model:{name}" for name in sorted(item.triggered)))

    def check_output(
        self,
        text: str,
        strictness: Strictness = "normal",
        link_allowlist: Sequence[str] | None = None,
        request: str | None = None,
        generated: bool = False,
    ) -> ModerationDecision:
        """Gate a reply before it is sent: block it, redact PII from it, or let it through.

        ``request`` is the user message that prompted the reply: with it the harm check judges the pair
        (harmful request + complying reply), without it the reply alone. ``generated``: the language model wrote
        the reply (not a KB quote or a fixed text), so the harm check's language-model stage may read it.
        """
        requests = None if request is None else [request]
        return self.check_outputs([text], strictness, link_allowlist, requests, [generated])[0]

    def check_outputs(
        self,
        texts: Sequence[str],
        strictness: Strictness = "normal",
        link_allowlist: Sequence[str] | None = None,
        requests: Sequence[str | None] | None = None,
        generated: Sequence[bool] | None = None,
    ) -> list[ModerationDecision]:
        """`check_output` for many replies, each classifier run once over the batch; decisions in input order.

        ``requests``, when given, holds each reply's prompting message (None or "" where there is none);
        ``generated``, which replies the language model wrote (default: none).
        """
        items = self._start(texts)
        if requests is not None:
            if len(requests) != len(items):
                raise ValueError(f"{len(requests)} requests for {len(items)} replies")
            for item, request in zip(items, requests, strict=True):
                item.request = remove_pii(request).strip() if request else ""
        if generated is not None:
            if len(generated) != len(items):
                raise ValueError(f"{len(generated)} generated flags for {len(items)} replies")
            for item, flag in zip(items, generated, strict=True):
                item.generated = flag
        for item in items:
            if any(pattern.search(item.text) for pattern in SECRET_PATTERNS):
                item.reasons.append("secret")
            if self._leaks_protected(item.text):
                item.reasons.append("prompt_leak")
        self._judge_offensive(items, self.policy.offensive_threshold, strictness)
        self._judge_harm(items, strictness)
        return [self._output_decision(item, link_allowlist) for item in items]

    def _output_decision(self, item: _Judgement, link_allowlist: Sequence[str] | None) -> ModerationDecision:
        scores, language, judged_by = item.scores, item.language, tuple(item.judged_by)
        if item.reasons:
            return ModerationDecision(
                "block", self.policy.fallback_reply, self._explained(item), scores, language, judged_by
            )
        redactions: list[str] = []
        allowed = tuple(link_allowlist if link_allowlist is not None else self.policy.link_allowlist)

        def replace_link(match: re.Match[str]) -> str:
            if domain_allowed(match.group(1), allowed):
                return match.group(0)
            redactions.append("link_not_allowed")
            return "[link removed]"

        text = LINK.sub(replace_link, item.text)
        if MENTION_ALL.search(text):
            redactions.append("mass_mention")
            text = MENTION_ALL.sub(lambda match: match.group(1), text)
        if self.policy.redact_pii:
            text, matches = redact_pii(text)
            redactions.extend(f"pii:{match.kind}" for match in matches)
        if redactions:
            return ModerationDecision("redact", text, tuple(sorted(set(redactions))), scores, language, judged_by)
        return ModerationDecision("allow", text, (), scores, language, judged_by)

    def check_input(self, text: str, strictness: Strictness = "normal") -> ModerationDecision:
        """Flag an incoming message (the text itself is kept as the user wrote it)."""
        return self.check_inputs([text], strictness)[0]

    def check_inputs(self, texts: Sequence[str], strictness: Strictness = "normal") -> list[ModerationDecision]:
        """`check_input` for many messages, each classifier run once over the batch; no harm check on inputs."""
        items = self._start(texts)
        self._judge_offensive(items, self.policy.input_flag_threshold, strictness)
        return [
            ModerationDecision(
                "block" if item.reasons else "allow",
                item.text,
                self._explained(item),
                item.scores,
                item.language,
                tuple(item.judged_by),
            )
            for item in items
        ]

    def _leaks_protected(self, text: str) -> bool:
        """True when the text repeats a run of LEAK_SHINGLE words, or any code/key, of a protected text."""
        if self._protected_codes and any(code.lower() in text.lower() for code in self._protected_codes):
            return True
        return bool(shingles(text) & self._protected_shingles)


def _han_share(text: str) -> float:
    """Share of Han characters among the letters of ``text``."""
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return 0.0
    return sum("\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" for char in letters) / len(letters)


def _owned_by_language_model(language: str, text: str) -> bool:
    """Whether a language's own model judges ``text`` alone (Chinese: only texts mostly in Han characters)."""
    return language != "zh" or _han_share(text) >= CHINESE_MIN_SHARE


def _normalise(text: str) -> str:
    return " ".join(WORD.findall(text.lower()))


def shingles(text: str) -> set[str]:
    words = WORD.findall(text.lower())
    return {" ".join(words[index : index + LEAK_SHINGLE]) for index in range(len(words) - LEAK_SHINGLE + 1)}


def domain_allowed(domain: str, allowlist: Sequence[str]) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == allowed or domain.endswith("." + allowed) for allowed in allowlist)


class ProfanityCheckScorer:
    """The linear profanity classifier shipped by `alt-profanity-check`, as a fallback scorer."""

    def __init__(self) -> None:
        from profanity_check import predict_prob

        self._predict_prob = predict_prob

    def score(self, text: str) -> float:
        return float(self._predict_prob([text])[0])

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        return [float(value) for value in self._predict_prob(list(texts))]
