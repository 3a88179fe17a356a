"""Train the sentiment model (bot/insight/weights) on UMSAB and print its figures.

Recipe: UMSAB train minus a seeded, stratified held-out slice of 300 tweets per language (the `fit` set) ->
each text's language read by the bot's own detector (bot/language.py, as in production) -> hashed word and
character n-grams, shared and language-tagged (bot/insight/features.py) -> sublinear tf-idf -> multinomial
logistic regression. `--C` was chosen on the UMSAB `val` split (the `tune` set); `--final` refits on fit+tune
with that choice. `--heldout` scores the saved model once on the held-out slice and records that it looked.

    python scripts/train_sentiment.py [--C 5] [--final] [--heldout]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.insight.evaluation import (
    LabelledTweets,
    SentimentReport,
    default_umsab_dir,
    evaluate,
    load_splits,
)
from bot.insight.features import document_frequency_idf, term_counts, tfidf
from bot.insight.sentiment import METADATA_FILE, WEIGHTS_FILE, LinearWeights, SentimentModel, default_weights_dir
from bot.language import default_detector


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="UMSAB folder (default ../shared/data/umsab)")
    parser.add_argument("--out", type=Path, default=default_weights_dir())
    parser.add_argument("--C", type=float, default=5.0, help="inverse regularisation (chosen on tune)")
    parser.add_argument("--final", action="store_true", help="fit on fit+tune (after choosing on tune)")
    parser.add_argument("--heldout", action="store_true", help="only score the saved model on the held-out slice")
    return parser.parse_args()


def train(data: LabelledTweets, c_value: float) -> LinearWeights:
    detector = default_detector()
    languages = [guess.code for guess in detector.detect_many(data.texts)]
    counts = term_counts(list(data.texts), languages)
    idf = document_frequency_idf(counts)
    classifier = LogisticRegression(C=c_value, max_iter=3000)
    classifier.fit(tfidf(counts, idf), list(data.labels))
    return LinearWeights(idf, classifier.coef_.astype(np.float32), classifier.intercept_.astype(np.float32))


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
    splits = load_splits(args.data or default_umsab_dir())
    metadata_path = args.out / METADATA_FILE
    if args.heldout:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        model = SentimentModel.load(args.out)
        metadata["heldout"] = show("held-out", evaluate(model.predict_labels, splits.heldout))
        metadata["heldout_looks"] = int(metadata.get("heldout_looks", 0)) + 1
        metadata_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        print(f"held-out looked at {metadata['heldout_looks']} time(s) for this model")
        return
    started = time.perf_counter()
    weights = train(splits.fit, args.C)
    model = SentimentModel(weights)
    tune = show("tune (UMSAB val)", evaluate(model.predict_labels, splits.tune))
    if args.final:
        weights = train(splits.fit + splits.tune, args.C)
    args.out.mkdir(parents=True, exist_ok=True)
    weights.save(args.out / WEIGHTS_FILE)
    metadata = {
        "name": f"umsab-ngram-lr-C{args.C:g}{'-final' if args.final else ''}",
        "recipe": "hashed word 1-2 + char 2-5 n-grams, shared + language-tagged, sublinear tf-idf, multinomial LR",
        "C": args.C,
        "trained_on": "fit+tune" if args.final else "fit",
        "fit_rows": len(splits.fit) + (len(splits.tune) if args.final else 0),
        "tune": tune,
        "tune_note": "figures of the model fitted on `fit` only" if args.final else "",
        "heldout_looks": 0,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(f"saved {args.out / WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
