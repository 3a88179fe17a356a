"""Measure a fine-tuned MiniLM cross-encoder over (goal, reply) pairs as the harm check's compliance model.

The bundled all-MiniLM-L6-v2 reads ``[CLS] goal [SEP] reply [SEP]`` (``bot.moderation.reply_pair_tokens``); its
lower layers stay frozen (their states are computed once and cached under ``--cache``), the top
``--trained-layers`` and a linear head on the mean-pooled states are trained on the fit behaviours' replies plus
benign fit pairs (CLINC150 / Banking77 / OLID / UMSAB texts as replies to another text of their source).

- ``cache``: the frozen layers' token states of every fit and calibration pair (test is never read).
- ``cv``: 5-fold cross-validation grouped by behaviour over the fit replies (``behaviour_folds``, the folds of the
  README's fit CV figures), out-of-fold logits of the cross-encoder, of pair mode's TF-IDF compliance model and
  their z-average; AUC and recall at 3% false blocks. Writes ``cv_cross.json`` and the out-of-fold logits.

    python scripts/train_harm_cross.py cache|cv [--cache var/harm_cross] [--max-tokens 192]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_harm_pair import fit_compliance, recall_at

from bot.evaluation.harm_data import HarmSplits, behaviour_folds, load_harm_splits, pair_benign
from bot.evaluation.moderation import shared_data_dir
from bot.minilm_torch import MiniLMEncoder, _attention_bias
from bot.moderation.harm import strip_ellipses
from bot.moderation.reply_pair_tokens import PairTokenizer

SEED = 17
FOLDS = 5
BENIGN_PER_SOURCE = 40
BATCH = 16


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("cache", "cv"))
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("var/harm_cross"))
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--trained-layers", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    return parser.parse_args()


def training_pairs(splits: HarmSplits) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Fit and calibration jailbreak pairs, then benign fit pairs: requests, replies, labels, split tags
    (0 fit, 1 calibration, 2 benign fit)."""
    requests = list(splits.goals["fit"]) + list(splits.goals["calibration"])
    replies = list(splits.jailbreak["fit"].texts) + list(splits.jailbreak["calibration"].texts)
    labels = list(splits.jailbreak["fit"].labels) + list(splits.jailbreak["calibration"].labels)
    tags = [0] * len(splits.goals["fit"]) + [1] * len(splits.goals["calibration"])
    benign = {source: texts[:BENIGN_PER_SOURCE] for source, texts in splits.benign["fit"].items()}
    benign_requests, benign_replies = pair_benign(benign)
    requests += benign_requests
    replies += benign_replies
    labels += [0] * len(benign_replies)
    tags += [2] * len(benign_replies)
    return requests, [strip_ellipses(text) for text in replies], np.array(labels), np.array(tags)


def frozen_layers(args: argparse.Namespace) -> int:
    return 6 - args.trained_layers


def cache_path(args: argparse.Namespace) -> Path:
    return args.cache / f"states_before{frozen_layers(args)}_max{args.max_tokens}.npz"


def run_cache(args: argparse.Namespace, splits: HarmSplits) -> None:
    requests, replies, labels, tags = training_pairs(splits)
    tokenizer = PairTokenizer(max_tokens=args.max_tokens)
    encoder = MiniLMEncoder.from_pretrained()
    states, lengths = [], []
    started = time.process_time()
    order = np.argsort([len(text) for text in replies])
    # Token types enter at the embeddings, so the cached states already carry them.
    by_row: dict[int, np.ndarray] = {}
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        batch = tokenizer([requests[i] for i in rows], [replies[i] for i in rows])
        with torch.no_grad():
            hidden = encoder.hidden_states_before(
                batch.input_ids, batch.attention_mask, frozen_layers(args), batch.token_type_ids
            )
        for offset, row in enumerate(rows):
            length = int(batch.attention_mask[offset].sum())
            by_row[int(row)] = hidden[offset, :length].numpy().astype(np.float16)
        if start % (BATCH * 10) == 0:
            print(f"  {start}/{len(order)} {time.process_time() - started:.0f} CPU-s", flush=True)
    for row in range(len(replies)):
        states.append(by_row[row])
        lengths.append(len(by_row[row]))
    args.cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache_path(args),
        states=np.concatenate(states),
        lengths=np.array(lengths),
        labels=labels,
        tags=tags,
    )
    print(f"cached {len(replies)} pairs, {sum(lengths)} tokens, {time.process_time() - started:.0f} CPU-s")


class CachedStates:
    """Per-row frozen token states, batched with padding."""

    def __init__(self, path: Path) -> None:
        data = np.load(path)
        self.lengths = data["lengths"]
        self.labels = data["labels"]
        self.tags = data["tags"]
        offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        states = data["states"]
        self.rows = [states[offsets[i] : offsets[i + 1]] for i in range(len(self.lengths))]

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        length = int(self.lengths[rows].max())
        hidden = np.zeros((len(rows), length, self.rows[0].shape[1]), dtype=np.float32)
        mask = np.zeros((len(rows), length), dtype=np.int64)
        for offset, row in enumerate(rows):
            hidden[offset, : self.lengths[row]] = self.rows[row]
            mask[offset, : self.lengths[row]] = 1
        return torch.from_numpy(hidden), torch.from_numpy(mask)


class CrossHead(nn.Module):
    """The trained top layers and a linear head on the mean-pooled states (one compliance logit)."""

    def __init__(self, base: MiniLMEncoder, first_trained: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in base.layers[first_trained:])
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(base.config.hidden_size, 1)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        bias = _attention_bias(mask)
        for layer in self.layers:
            hidden = layer(hidden, bias)
        weights = mask.to(torch.float32)[..., None]
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        logits: torch.Tensor = self.linear(self.dropout(pooled)).squeeze(-1)
        return logits


def length_batches(cached: CachedStates, rows: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of similar length (less padding), in random order."""
    shuffled = rng.permutation(rows)
    chunks = [shuffled[i : i + BATCH * 8] for i in range(0, len(shuffled), BATCH * 8)]
    batches = []
    for chunk in chunks:
        chunk = chunk[np.argsort(cached.lengths[chunk])]
        batches.extend(chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH))
    return [batches[i] for i in rng.permutation(len(batches))]


def train(cached: CachedStates, rows: np.ndarray, base: MiniLMEncoder, args: argparse.Namespace) -> CrossHead:
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    model = CrossHead(base, frozen_layers(args)).train()
    optimizer = torch.optim.AdamW(
        [
            {"params": model.layers.parameters(), "lr": args.lr},
            {"params": model.linear.parameters(), "lr": args.head_lr},
        ],
        weight_decay=0.01,
    )
    labels = cached.labels[rows]
    pos_weight = torch.tensor((labels == 0).sum() / max(1, (labels == 1).sum()), dtype=torch.float32)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    for _epoch in range(args.epochs):
        for batch_rows in length_batches(cached, rows, rng):
            hidden, mask = cached.batch(batch_rows)
            loss = loss_fn(model(hidden, mask), torch.from_numpy(cached.labels[batch_rows]).float())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def predict(model: CrossHead, cached: CachedStates, rows: np.ndarray) -> np.ndarray:
    scores = np.zeros(len(rows))
    order = np.argsort(cached.lengths[rows])
    with torch.no_grad():
        for start in range(0, len(order), 64):
            picked = order[start : start + 64]
            hidden, mask = cached.batch(rows[picked])
            scores[picked] = model(hidden, mask).numpy()
    return scores


def figure(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {
        "auc": round(float(roc_auc_score(y, scores)), 4),
        "recall_at_2pct": round(recall_at(y, scores, 0.02), 4),
        "recall_at_3pct": round(recall_at(y, scores, 0.03), 4),
    }


def run_cv(args: argparse.Namespace, splits: HarmSplits) -> None:
    cached = CachedStates(cache_path(args))
    base = MiniLMEncoder.from_pretrained()
    fit_rows = np.flatnonzero(cached.tags == 0)
    benign_rows = np.flatnonzero(cached.tags == 2)
    folds = np.array(behaviour_folds(splits))
    y = cached.labels[fit_rows]
    cross = np.zeros(len(fit_rows))
    tfidf = np.zeros(len(fit_rows))
    fit = splits.jailbreak["fit"]
    started = time.process_time()
    for fold in range(FOLDS):
        train_rows = np.concatenate([fit_rows[folds != fold], benign_rows])
        held = np.flatnonzero(folds == fold)
        model = train(cached, train_rows, base, args)
        cross[held] = predict(model, cached, fit_rows[held])
        compliance = fit_compliance(
            [fit.texts[i] for i in np.flatnonzero(folds != fold)],
            [fit.labels[i] for i in np.flatnonzero(folds != fold)],
            4.0,
        )
        tfidf[held] = compliance.logits([strip_ellipses(fit.texts[i]) for i in held])
        print(
            f"fold {fold}: cross {figure(y[held], cross[held])['auc']} ({time.process_time() - started:.0f} CPU-s)",
            flush=True,
        )
    z_average = (cross - cross.mean()) / cross.std() + (tfidf - tfidf.mean()) / tfidf.std()
    report = {
        "settings": {k: str(v) for k, v in vars(args).items()},
        "cross_encoder": figure(y, cross),
        "tfidf": figure(y, tfidf),
        "z_average_cross_tfidf": figure(y, z_average),
        "cpu_s": round(time.process_time() - started),
    }
    print(json.dumps(report, indent=1))
    tag = f"t{args.trained_layers}_max{args.max_tokens}_e{args.epochs}"
    np.save(args.cache / f"cross_oof_{tag}.npy", cross)
    np.save(args.cache / "tfidf_fit_oof.npy", tfidf)
    (args.cache / f"cv_cross_{tag}.json").write_text(json.dumps(report, indent=1))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    splits = load_harm_splits(args.data or shared_data_dir())
    if args.step == "cache":
        run_cache(args, splits)
    else:
        run_cv(args, splits)


if __name__ == "__main__":
    main()
