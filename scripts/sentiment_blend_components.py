"""Cache the three sentiment models' log-probabilities on `tune` (models fitted on `fit`) for blend experiments.

The same setup as `scripts/train_sentiment.py` before its blend step: languages read by the bot's detector and the
Hinglish detector (cross-fitted on fit), the NB-LR n-gram model (C 4) fitted on fit, the shipped MiniLM layer (its
fine-tuning used fit only) and the USE head (C 0.3) fitted on fit. Writes var/sentiment_tune_components.npz, which
`scripts/sentiment_blend_options.py` reads. No held-out row is read.

    python scripts/sentiment_blend_components.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_sentiment import (
    cached_ngrams,
    cross_fitted_languages,
    train_hinglish,
    train_use_head,
    use_log_probabilities,
    use_vectors,
)

from bot.evaluation.sentiment import default_umsab_dir, load_splits
from bot.insight.encoder_sentiment import SENTIMENT_LAYERS_FILE, EncoderSentiment
from bot.insight.hinglish import HinglishDetector
from bot.insight.sentiment import SentimentModel, default_weights_dir
from bot.language import default_detector

CACHE = Path(__file__).resolve().parents[1] / "var"
NGRAM_C = 4.0
USE_C = 0.3


def main() -> None:
    torch.set_num_threads(1)
    splits = load_splits(default_umsab_dir())
    detector = default_detector()
    fit_detected = [guess.code for guess in detector.detect_many(splits.fit.texts)]
    tune_detected = [guess.code for guess in detector.detect_many(splits.tune.texts)]
    hinglish = train_hinglish(splits.fit)
    fit_languages = cross_fitted_languages(splits.fit, fit_detected)
    tune_languages = HinglishDetector(hinglish).model_languages(splits.tune.texts, tune_detected)
    weights = cached_ngrams(splits.fit, fit_languages, NGRAM_C, CACHE)
    ngram = SentimentModel(weights, detector).ngram_log_probabilities(list(splits.tune.texts), tune_languages)
    print("MiniLM…", flush=True)
    minilm = EncoderSentiment.load(default_weights_dir() / SENTIMENT_LAYERS_FILE).log_probabilities(
        list(splits.tune.texts)
    )
    print("USE…", flush=True)
    fit_vectors = use_vectors(splits.fit, CACHE, "fit")
    tune_vectors = use_vectors(splits.tune, CACHE, "tune")
    head = train_use_head(fit_vectors, fit_languages, splits.fit.labels, USE_C)
    use = use_log_probabilities(head, tune_vectors, tune_languages)
    np.savez(
        CACHE / "sentiment_tune_components.npz",
        ngram=ngram,
        minilm=minilm,
        use=use,
        gold=np.asarray(splits.tune.labels),
        gold_languages=np.asarray(splits.tune.languages),
        read_languages=np.asarray(tune_languages),
        detected=np.asarray(tune_detected),
        fit_languages=np.asarray(fit_languages),
    )
    print(f"saved {CACHE / 'sentiment_tune_components.npz'}")


if __name__ == "__main__":
    main()
