"""Building the moderation gate from the `[moderation]` config section."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from bot.config import ConfigError, LoadedConfig
from bot.moderation.gate import GatePolicy, LanguageScorer, ModerationGate, ProfanityCheckScorer, TextScorer
from bot.moderation.wordlists import WordListError, WordLists

if TYPE_CHECKING:
    from bot.moderation.reply_probe import DeepHarmCheck, ReplyFeatureSource

log = logging.getLogger(__name__)


def gate_policy(
    config: LoadedConfig, offensive: TextScorer | None = None, harm: TextScorer | None = None
) -> GatePolicy:
    """The gate's policy; unset thresholds take the classifiers' calibrated ones (or safe defaults)."""
    moderation = config.settings.moderation
    offensive_default = float(getattr(offensive, "threshold", 0.8))
    harm_default = float(getattr(harm, "threshold", 0.5))

    def chosen(value: float | None, default: float) -> float:
        return default if value is None else value

    return GatePolicy(
        blocklist=tuple(moderation.blocklist),
        block_patterns=tuple(moderation.block_patterns),
        redact_pii=moderation.redact_pii,
        offensive_threshold=chosen(moderation.offensive_threshold, offensive_default),
        input_flag_threshold=chosen(moderation.input_flag_threshold, offensive_default),
        harm_threshold=chosen(moderation.harm_threshold, harm_default),
        harm_pair_threshold=pair_threshold(
            moderation.harm_threshold, harm_default, getattr(harm, "pair_threshold", None)
        ),
        link_allowlist=tuple(moderation.link_allowlist),
        fallback_reply=config.settings.bot.fallback_reply,
    )


def pair_threshold(configured: float | None, calibrated: float, calibrated_pair: float | None) -> float | None:
    """The pair mode's threshold: its calibrated one, moved by the same factor as a configured `harm_threshold`.

    The two modes score on different scales, so one `harm_threshold` sets both: at the calibrated value the pair
    threshold is the calibrated pair threshold; half of it halves the pair threshold too (capped at 1).
    """
    if calibrated_pair is None or configured is None or calibrated <= 0.0:
        return calibrated_pair
    return min(1.0, calibrated_pair * configured / calibrated)


def offensive_scorer(kind: str) -> TextScorer | None:
    """The configured offensive-language classifier; the trained one falls back to profanity-check."""
    if kind == "none":
        return None
    if kind == "trained":
        try:
            from bot.moderation.classifier import OffensiveClassifier

            return OffensiveClassifier.load()
        except Exception as exc:  # a missing or broken model file must not stop the bot
            log.warning("trained offensive classifier unavailable (%s); using profanity-check", exc)
    return ProfanityCheckScorer()


def harm_scorer(enabled: bool) -> TextScorer | None:
    if not enabled:
        return None
    try:
        from bot.moderation.harm import HarmClassifier

        return HarmClassifier.load()
    except Exception as exc:  # a missing or broken model file must not stop the bot
        log.warning("harm classifier unavailable (%s); harm check disabled", exc)
        return None


def language_scorers(kind: str) -> dict[str, LanguageScorer]:
    """Offensive classifiers for languages other than English, by language code (Chinese: COLD)."""
    if kind == "none":
        return {}
    try:
        from bot.moderation.chinese import ChineseOffensiveClassifier

        return {"zh": ChineseOffensiveClassifier.load()}
    except Exception as exc:  # a missing or broken model file must not stop the bot
        log.warning("Chinese offensive classifier unavailable (%s); Chinese is judged by rules only", exc)
        return {}


def word_lists(config: LoadedConfig) -> WordLists:
    """The shipped per-language word lists plus the owner's folder and inline words."""
    moderation = config.settings.moderation
    extra_dir = config.resolve_path(moderation.word_list_dir) if moderation.word_list_dir else None
    try:
        return WordLists.load(extra_dir, moderation.word_lists)
    except WordListError as error:
        raise ConfigError(config.source, "moderation.word_list_dir", str(error)) from error


def deep_harm_check(harm: TextScorer | None, enabled: bool) -> DeepHarmCheck | None:
    """The harm check's language-model stage over the shipped harm classifier, unless turned off or missing."""
    from bot.moderation.harm import HarmClassifier

    if not enabled or not isinstance(harm, HarmClassifier) or harm.pair is None:
        return None
    try:
        from bot.moderation.reply_probe import DeepHarmCheck

        return DeepHarmCheck.load(harm)
    except Exception as exc:  # a missing or broken weights file must not stop the bot
        log.warning("harm check's language-model stage unavailable (%s); pair mode only", exc)
        return None


def build_gate(config: LoadedConfig, reply_features: ReplyFeatureSource | None = None) -> ModerationGate:
    """The gate the `[moderation]` section describes. ``reply_features`` (the in-process engine's hidden states,
    ``bot.engine.hidden_states.EngineFeaturesOnDemand``) turns on the harm check's language-model stage for
    replies the model generated, unless `harm_lm_check = false`."""
    moderation = config.settings.moderation
    extra: TextScorer | None = None
    if moderation.hf_model:
        from bot.moderation.classifier import HFSequenceClassifier

        extra = HFSequenceClassifier(moderation.hf_model, moderation.hf_offensive_label)
    offensive = offensive_scorer(moderation.classifier)
    harm = harm_scorer(moderation.harm_check)
    return ModerationGate(
        gate_policy(config, offensive, harm),
        offensive=offensive,
        harm=harm,
        extra_offensive=extra,
        language_models=language_scorers(moderation.classifier),
        word_lists=word_lists(config),
        deep_harm=deep_harm_check(harm, moderation.harm_lm_check) if reply_features is not None else None,
        reply_features=reply_features,
    )


@functools.cache
def standard_gate() -> ModerationGate:
    """The gate with the default `[moderation]` settings and the shipped models (for evaluation and benchmarks)."""
    from bot.config import load_config

    return build_gate(load_config(None, environ={}))
