"""Refit the offensive classifier's linear head with ordinary sentences it wrongly flagged (names, film villains).

The fine-tuned encoder layers stay as ``scripts/train_moderation.py`` left them; only the head (one linear layer
over the mean-pooled vector) is refitted, as a logistic regression on:
- a seeded sample of OLID's fit split (the trainer's own split; OLID's held-out split is never read),
- ``bot/moderation/data/offensive_benign_extra.jsonl`` (the project's own benign sentences, each weighted
  ``--extra-weight``),
starting from the trained head and pulled towards it (``--anchor``), so it moves only as far as needed.
The threshold is the best macro-F1 on the trainer's dev split, and the old head's dev figure is printed beside the
new one. About 3 minutes on a shared 2-core CPU.

    python scripts/refit_offensive_head.py [--olid ../shared/data/olid/olid-training-v1.0.tsv]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.moderation import (
    HELDOUT_FRACTION,
    HELDOUT_SEED,
    class_metrics,
    load_labelled_jsonl,
    load_olid_tsv,
    shared_data_dir,
    split_heldout,
)
from bot.minilm_numpy import NumpyMiniLM
from bot.moderation.classifier import HEAD_PREFIX, LAYERS_FILE, METADATA_FILE, OffensiveClassifier, default_weights_dir

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "bot" / "moderation"
DEV_FRACTION = 0.15  # as scripts/train_moderation.py


def pooled(classifier: OffensiveClassifier, texts: list[str]) -> np.ndarray:
    """The mean-pooled vectors the head reads, for ``texts`` (batched by length)."""
    encoder: NumpyMiniLM = classifier._encoder
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    output = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    for start in range(0, len(order), 128):
        indices = order[start : start + 128]
        output[indices] = encoder(*classifier._tokenizer.arrays([texts[i] for i in indices]))
    return output


def refit_head(
    trained: tuple[np.ndarray, float], features: np.ndarray, labels: np.ndarray, weights: np.ndarray, anchor: float
) -> tuple[np.ndarray, float]:
    """Start from the trained head and minimise weighted log-loss plus ``anchor`` * ||w - w_old||^2 (L-BFGS):
    the head moves only as far as the added sentences need."""
    old_weight = torch.tensor(trained[0], dtype=torch.float32)
    old_bias = torch.tensor(trained[1], dtype=torch.float32)
    weight = old_weight.clone().requires_grad_(True)
    bias = old_bias.clone().requires_grad_(True)
    x, y, w = torch.from_numpy(features), torch.from_numpy(labels), torch.from_numpy(weights)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = x @ weight + bias
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).sum() / w.sum()
        loss = loss + anchor * ((weight - old_weight) ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach().numpy().astype(np.float32), float(bias.detach())


def best_threshold(labels: list[int], scores: np.ndarray) -> tuple[float, float]:
    best = (0.0, 0.5)
    for threshold in np.arange(0.10, 0.91, 0.01):
        predictions = [int(s >= threshold) for s in scores]
        macro = (class_metrics(labels, predictions, 1).f1 + class_metrics(labels, predictions, 0).f1) / 2
        if macro > best[0]:
            best = (macro, round(float(threshold), 2))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--olid", type=Path, default=shared_data_dir() / "olid" / "olid-training-v1.0.tsv")
    parser.add_argument("--extra", type=Path, default=PACKAGE_DIR / "data" / "offensive_benign_extra.jsonl")
    parser.add_argument("--weights", type=Path, default=default_weights_dir())
    parser.add_argument("--fit-sample", type=int, default=3000, help="OLID fit tweets used (seeded sample)")
    parser.add_argument("--extra-weight", type=float, default=10.0)
    parser.add_argument("--anchor", type=float, default=0.01, help="L2 pull towards the old head's weights")
    parser.add_argument("--cache", type=Path, default=None, help="reuse/save the encoded vectors here (.npz)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    training = split_heldout(load_olid_tsv(args.olid), HELDOUT_FRACTION, HELDOUT_SEED).train
    fit_dev = split_heldout(training, DEV_FRACTION, args.seed)
    fit, dev = fit_dev.train, fit_dev.heldout
    sample = sorted(random.Random(args.seed).sample(range(len(fit)), min(args.fit_sample, len(fit))))
    extra = load_labelled_jsonl(args.extra, "offensive")
    classifier = OffensiveClassifier.load(args.weights)
    texts = [fit.texts[i] for i in sample] + list(extra.texts)
    labels = [fit.labels[i] for i in sample] + list(extra.labels)
    weights = [1.0] * len(sample) + [args.extra_weight] * len(extra)
    cache = args.cache
    if cache is not None and cache.is_file():
        with np.load(cache) as arrays:
            features, dev_features = arrays["features"], arrays["dev"]
    else:
        features = pooled(classifier, texts)
        dev_features = pooled(classifier, list(dev.texts))
        if cache is not None:
            np.savez(cache, features=features, dev=dev_features)
    print(f"encoded {len(texts)} + {len(dev)} dev texts  {time.time() - started:.0f}s", flush=True)
    metadata_path = args.weights / METADATA_FILE
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    # Always start from the head train_moderation.py trained (kept in the metadata), so refits do not drift.
    previous = metadata.get("head_refit", {})
    if "trained_head" in previous:
        trained = (np.array(previous["trained_head"], dtype=np.float32), float(previous["trained_bias"]))
    else:
        trained = (classifier._head.weight[0].copy(), float(classifier._head.bias[0]))
    with torch.inference_mode():
        old_dev = 1.0 / (1.0 + np.exp(-(dev_features @ trained[0] + trained[1])))
    old_macro, old_threshold = best_threshold(list(dev.labels), old_dev)
    weight, bias = refit_head(
        trained, features, np.array(labels, dtype=np.float32), np.array(weights, dtype=np.float32), args.anchor
    )
    new_dev = 1.0 / (1.0 + np.exp(-(dev_features @ weight + bias)))
    new_macro, new_threshold = best_threshold(list(dev.labels), new_dev)
    print(f"dev macro-F1: old head {old_macro:.4f} at {old_threshold}, new head {new_macro:.4f} at {new_threshold}")
    state = load_file(str(args.weights / LAYERS_FILE))
    state[f"{HEAD_PREFIX}linear.weight"] = torch.tensor(weight[None, :], dtype=torch.float32)
    state[f"{HEAD_PREFIX}linear.bias"] = torch.tensor([bias], dtype=torch.float32)
    save_file(state, str(args.weights / LAYERS_FILE))
    metadata.update(
        {
            "threshold": new_threshold,
            "dev_macro_f1": round(new_macro, 4),
            "head_refit": {
                "command": "python scripts/refit_offensive_head.py " + " ".join(sys.argv[1:]),
                "fit_sample": len(sample),
                "extra_file": args.extra.name,
                "n_extra": len(extra),
                "extra_weight": args.extra_weight,
                "anchor": args.anchor,
                "seed": args.seed,
                "old_head_dev_macro_f1": round(old_macro, 4),
                "old_head_threshold": old_threshold,
                "trained_head": [round(float(value), 8) for value in trained[0]],
                "trained_bias": float(trained[1]),
                "seconds": round(time.time() - started),
            },
        }
    )
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metadata["head_refit"], indent=2))


if __name__ == "__main__":
    main()
