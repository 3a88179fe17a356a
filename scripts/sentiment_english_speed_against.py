"""CPU-ms per English UMSAB val tweet scored one at a time: two sentiment weight folders side by side.

Loads both models in one process at one thread and alternates them over `--rounds` rounds on the same tweets, so
machine load hits both alike; forgets detected languages before each pass, as a message's first reader would.

    python scripts/sentiment_english_speed_against.py OLD_DIR [NEW_DIR] [--texts 300] [--rounds 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.sentiment import default_umsab_dir, load_splits
from bot.insight.sentiment import SentimentModel, default_weights_dir


def cpu_ms_per_text(model: SentimentModel, texts: list[str]) -> float:
    model.detector.forget_guesses()
    started = time.process_time()
    for text in texts:
        model.score(text)
    return (time.process_time() - started) * 1000 / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=default_weights_dir())
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tune = load_splits(default_umsab_dir()).tune
    texts = [text for text, code in zip(tune.texts, tune.languages, strict=True) if code == "en"][: args.texts]
    models = {"old": SentimentModel.load(args.old), "new": SentimentModel.load(args.new)}
    for model in models.values():
        model.score_batch(texts[:16])
    for round_number in range(args.rounds):
        figures = {name: cpu_ms_per_text(model, texts) for name, model in models.items()}
        print(f"round {round_number + 1}: " + ", ".join(f"{name} {value:.2f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
