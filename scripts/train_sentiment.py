"""Train the sentiment model (bot/insight/weights) on UMSAB and print its figures.

Recipe (seeded; every choice made on the `tune` split, UMSAB `val`):
1. n-gram model: UMSAB train minus a seeded, stratified held-out slice of 300 tweets per language (the `fit`
   set) -> each text's language read by the bot's own detector (bot/language.py, as in production) -> hashed
   word and character n-grams, shared and language-tagged (bot/insight/features.py) -> sublinear tf-idf ->
   multinomial logistic regression (`--C`).
2. encoder model: the bundled all-MiniLM-L6-v2, frozen, mean-pooled -> standardised -> multinomial logistic
   regression (`--encoder-C`), folded into one linear head (bot/insight/encoder_sentiment.py).
3. blend: per language, the weight of the encoder's log-probabilities against the n-gram model's that scores
   best on `tune` (grid of tenths); languages `tune` lacks get the weight best over all of `tune`.
`--final` then refits both models on fit+tune with those choices. `--heldout` scores the saved model once on
the held-out slice and records that it looked.

    python scripts/train_sentiment.py [--final] [--heldout] [--cache /tmp/insight]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import save_file
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.sentiment import (
    LANGUAGES,
    LabelledTweets,
    SentimentReport,
    default_umsab_dir,
    evaluate,
    load_splits,
    macro_f1,
)
from bot.insight.encoder_sentiment import (
    HEAD_PREFIX,
    MAX_TOKENS,
    SENTIMENT_LAYERS_FILE,
    bundled_encoder,
)
from bot.insight.features import document_frequency_idf, term_counts, tfidf
from bot.insight.sentiment import (
    METADATA_FILE,
    WEIGHTS_FILE,
    EncoderBlend,
    LinearWeights,
    SentimentModel,
    default_weights_dir,
)
from bot.language import default_detector
from bot.moderation.embeddings_features import EncoderTokenizer

SEED = 18
BLEND_GRID = tuple(round(0.1 * step, 1) for step in range(10))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="UMSAB folder (default ../shared/data/umsab)")
    parser.add_argument("--out", type=Path, default=default_weights_dir())
    parser.add_argument("--C", type=float, default=5.0, help="n-gram LR inverse regularisation (chosen on tune)")
    parser.add_argument("--encoder-C", type=float, default=0.2, help="encoder LR inverse regularisation (on tune)")
    parser.add_argument("--final", action="store_true", help="fit on fit+tune (after choosing on tune)")
    parser.add_argument("--heldout", action="store_true", help="only score the saved model on the held-out slice")
    parser.add_argument("--cache", type=Path, default=None, help="folder to keep encoder features between runs")
    return parser.parse_args()


def train_ngrams(data: LabelledTweets, c_value: float) -> LinearWeights:
    detector = default_detector()
    languages = [guess.code for guess in detector.detect_many(data.texts)]
    counts = term_counts(list(data.texts), languages)
    idf = document_frequency_idf(counts)
    classifier = LogisticRegression(C=c_value, max_iter=3000)
    classifier.fit(tfidf(counts, idf), list(data.labels))
    return LinearWeights(idf, classifier.coef_.astype(np.float32), classifier.intercept_.astype(np.float32))


def cached_ngrams(data: LabelledTweets, c_value: float, cache: Path | None) -> LinearWeights:
    """The n-gram model fitted on `data` (read from `cache` when a run with the same rows and C saved it)."""
    cached = cache / f"sentiment_ngrams_{len(data)}_C{c_value:g}.npz" if cache else None
    if cached is not None and cached.is_file():
        return LinearWeights.read(cached)
    print(f"fitting the n-gram model on {len(data)} tweets…", flush=True)
    weights = train_ngrams(data, c_value)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        weights.save(cached)
    return weights


def pooled_features(data: LabelledTweets, cache: Path | None, name: str) -> NDArray[np.float32]:
    """Mean-pooled last hidden states of the frozen bundled encoder, one row per text (cached when asked)."""
    cached = cache / f"sentiment_pooled_{name}_{len(data)}.npy" if cache else None
    if cached is not None and cached.is_file():
        return np.load(cached)
    torch.manual_seed(SEED)
    encoder = bundled_encoder()
    tokenizer = EncoderTokenizer(max_tokens=MAX_TOKENS)
    order = sorted(range(len(data)), key=lambda index: len(data.texts[index]))
    pooled = np.zeros((len(data), encoder.config.hidden_size), dtype=np.float32)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            indices = order[start : start + 128]
            input_ids, attention_mask = tokenizer([data.texts[index] for index in indices])
            pooled[indices] = encoder(input_ids, attention_mask).numpy()
            if start % 2560 == 0:
                print(f"  encoding {name}: {start}/{len(data)} ({time.perf_counter() - started:.0f} s)", flush=True)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, pooled)
    return pooled


def train_encoder_head(
    features: NDArray[np.float32], labels: tuple[int, ...], c_value: float
) -> dict[str, torch.Tensor]:
    """LR on standardised pooled vectors, folded into one linear layer over the raw vectors."""
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    classifier = LogisticRegression(C=c_value, max_iter=3000)
    classifier.fit((features - mean) / scale, list(labels))
    weight = classifier.coef_ / scale[None, :]
    bias = classifier.intercept_ - weight @ mean
    return {
        f"{HEAD_PREFIX}linear.weight": torch.tensor(np.ascontiguousarray(weight), dtype=torch.float32),
        f"{HEAD_PREFIX}linear.bias": torch.tensor(np.ascontiguousarray(bias), dtype=torch.float32),
    }


def head_log_probabilities(state: dict[str, torch.Tensor], features: NDArray[np.float32]) -> NDArray[np.float32]:
    logits = torch.tensor(features) @ state[f"{HEAD_PREFIX}linear.weight"].T + state[f"{HEAD_PREFIX}linear.bias"]
    result: NDArray[np.float32] = logits.log_softmax(-1).numpy()
    return result


def choose_blend(
    ngram: NDArray[np.float32], encoder: NDArray[np.float32], data: LabelledTweets
) -> tuple[EncoderBlend, dict[str, float]]:
    """Per language, the encoder weight whose blend has the best macro-F1 on `data`; the overall best as default."""
    gold = np.asarray(data.labels)
    languages = np.asarray(data.languages)

    def per_language(weight: float) -> dict[str, float]:
        predicted = ((1 - weight) * ngram + weight * encoder).argmax(axis=1)
        return {
            code: macro_f1(gold[languages == code].tolist(), predicted[languages == code].tolist())
            for code in LANGUAGES.values()
        }

    scores = {weight: per_language(weight) for weight in BLEND_GRID}
    default = max(BLEND_GRID, key=lambda weight: float(np.mean(list(scores[weight].values()))))
    chosen = {code: max(BLEND_GRID, key=lambda weight: scores[weight][code]) for code in LANGUAGES.values()}
    return EncoderBlend(default, chosen), {code: scores[chosen[code]][code] for code in LANGUAGES.values()}


def show(title: str, report: SentimentReport) -> dict[str, object]:
    languages = " ".join(f"{code}={value:.3f}" for code, value in report.per_language.items())
    print(
        f"{title}: macro-F1 avg={report.average:.3f} {languages} "
        f"({report.rows} rows, {report.ms_per_message:.2f} ms/msg)"
    )
    return {
        "average": round(report.average, 4),
        "per_language": {code: round(value, 4) for code, value in report.per_language.items()},
        "rows": report.rows,
        "ms_per_message": round(report.ms_per_message, 3),
    }


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    splits = load_splits(args.data or default_umsab_dir())
    metadata_path = args.out / METADATA_FILE
    if args.heldout:
        recorded: dict[str, object] = json.loads(metadata_path.read_text(encoding="utf-8"))
        model = SentimentModel.load(args.out)
        recorded["heldout"] = show("held-out", evaluate(model.predict_labels, splits.heldout))
        recorded["heldout_looks"] = int(str(recorded.get("heldout_looks", 0))) + 1
        metadata_path.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
        print(f"held-out looked at {recorded['heldout_looks']} time(s) for this model")
        return
    started = time.perf_counter()
    weights = cached_ngrams(splits.fit, args.C, args.cache)
    ngram_model = SentimentModel(weights)
    detected = [guess.code for guess in ngram_model.detector.detect_many(splits.tune.texts)]
    ngram_tune = ngram_model.ngram_log_probabilities(list(splits.tune.texts), detected)
    print("encoding fit and tune with the bundled MiniLM…", flush=True)
    fit_features = pooled_features(splits.fit, args.cache, "fit")
    tune_features = pooled_features(splits.tune, args.cache, "tune")
    head = train_encoder_head(fit_features, splits.fit.labels, args.encoder_C)
    # The blend is chosen per gold language; at run time each text gets its detected language's weight.
    blend, blend_tune = choose_blend(ngram_tune, head_log_probabilities(head, tune_features), splits.tune)
    print(f"blend (encoder weight) default={blend.default} per language={blend.per_language}")
    args.out.mkdir(parents=True, exist_ok=True)
    weights.save(args.out / WEIGHTS_FILE)
    save_file(head, str(args.out / SENTIMENT_LAYERS_FILE))
    metadata_path.write_text(json.dumps({"name": "umsab-ngram-minilm-blend", "blend": blend.as_json()}) + "\n")
    # Scored one message at a time through the shipped loading path, as in production.
    tune = show("tune (UMSAB val)", evaluate(SentimentModel.load(args.out).predict_labels, splits.tune))
    if args.final:
        print("refitting both models on fit+tune…", flush=True)
        both = splits.fit + splits.tune
        weights = train_ngrams(both, args.C)
        head = train_encoder_head(np.concatenate([fit_features, tune_features]), both.labels, args.encoder_C)
        weights.save(args.out / WEIGHTS_FILE)
        save_file(head, str(args.out / SENTIMENT_LAYERS_FILE))
    metadata: dict[str, object] = {
        "name": f"umsab-ngram-minilm-blend{'-final' if args.final else ''}",
        "recipe": "hashed word 1-2 + char 2-5 n-gram LR (shared + language-tagged) blended per language with "
        "an LR head on frozen mean-pooled all-MiniLM-L6-v2",
        "C": args.C,
        "encoder_C": args.encoder_C,
        "blend": blend.as_json(),
        "trained_on": "fit+tune" if args.final else "fit",
        "fit_rows": len(splits.fit) + (len(splits.tune) if args.final else 0),
        "tune": tune,
        "tune_note": "figures of the models fitted on `fit` only" if args.final else "",
        "tune_blend_by_gold_language": {code: round(value, 4) for code, value in blend_tune.items()},
        "heldout_looks": 0,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(f"saved {args.out / WEIGHTS_FILE} and {args.out / SENTIMENT_LAYERS_FILE}")


if __name__ == "__main__":
    main()
