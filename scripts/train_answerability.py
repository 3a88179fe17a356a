"""Fine-tune the bundled MiniLM encoder into the knowledge base's answerability judge (bot/kb/answerability.py).

Recipe: question/passage pairs written for made-up businesses (bot/kb/data/answerability_train.jsonl; none is
the eval/kb shop) -> pair input ``[CLS] question [SEP] section: passage [SEP]`` -> the lowest
``--frozen-layers`` layers stay as bundled (their outputs computed once), the others and a linear head over mean
pooling are trained with binary cross-entropy, AdamW, linear warm-up then cosine decay.

``--cv K`` first trains K times with whole businesses held out (grouped folds) and prints the held-out AUC and
accuracy per epoch: how well the judge carries over to a business it has never seen. The final model is then
trained on every pair for ``--epochs`` and saved as fp16 safetensors with a JSON metadata file.

    python scripts/train_answerability.py [--cv 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.kb.answerability import (
    DEFAULT_MAX_TOKENS,
    LAYERS_FILE,
    METADATA_FILE,
    PairTokenizer,
    default_weights_dir,
    passage_text,
)
from bot.moderation.classifier import BinaryHead, finetuned_state
from bot.moderation.embeddings_features import MiniLMEncoder

DATA_DIR = Path(__file__).resolve().parents[1] / "bot" / "kb" / "data"
# Pairs written for 26 made-up businesses. Pairs from the tuning intents of eval/kb_benchmarks
# (scripts/make_benchmark_pairs.py -> answerability_benchmarks.jsonl) can be added with --data; not shipped yet.
DEFAULT_DATA = (DATA_DIR / "answerability_train.jsonl",)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEFAULT_DATA))
    parser.add_argument("--out", type=Path, default=default_weights_dir())
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--frozen-layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    parser.add_argument("--cv", type=int, default=0, help="grouped folds by business before the final run (0: none)")
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


Pair = tuple[str, str, int, str]  # question, passage, label, business


def load_pairs(path: Path) -> list[Pair]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairs.append(
                (
                    str(row["question"]),
                    passage_text(str(row.get("heading", "")), str(row["passage"])),
                    int(bool(row["answers"])),
                    str(row["domain"]),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"{path}:{number}: not a valid pair ({error})") from None
    return pairs


class Trainer:
    """One training run: cached frozen-layer outputs, the trained layers and head, and their optimizer."""

    def __init__(self, args: argparse.Namespace, tokenizer: PairTokenizer, pairs: list[Pair]) -> None:
        self.args = args
        self.tokenizer = tokenizer
        torch.manual_seed(args.seed)
        self.encoder = MiniLMEncoder.from_pretrained()
        self.head = BinaryHead(self.encoder.config.hidden_size)
        self.frozen = args.frozen_layers
        for parameter in [*self.encoder.embeddings.parameters(), *self.encoder.layers[: self.frozen].parameters()]:
            parameter.requires_grad_(False)
        self.cached = self._cache([(q, p) for q, p, _, _ in pairs])
        self.labels = torch.tensor([label for _, _, label, _ in pairs], dtype=torch.float32)

    def _cache(self, pairs: list[tuple[str, str]]) -> list[torch.Tensor]:
        cached: list[torch.Tensor] = []
        with torch.inference_mode():
            for start in range(0, len(pairs), 64):
                batch = self.tokenizer(pairs[start : start + 64])
                hidden = self.encoder.hidden_states_before(
                    batch.input_ids, batch.attention_mask, self.frozen, batch.token_type_ids
                )
                cached.extend(
                    hidden[row, : int(batch.attention_mask[row].sum())].clone() for row in range(hidden.shape[0])
                )
        return cached

    def train(self, epochs: int, on_epoch: Any = None) -> None:
        args = self.args
        trained = self.encoder.layers[self.frozen :]
        decay = [p for n, p in trained.named_parameters() if not (n.endswith("bias") or "norm" in n)]
        no_decay = [p for n, p in trained.named_parameters() if n.endswith("bias") or "norm" in n]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "lr": args.lr, "weight_decay": args.weight_decay},
                {"params": no_decay, "lr": args.lr, "weight_decay": 0.0},
                {"params": list(self.head.parameters()), "lr": args.head_lr, "weight_decay": 0.0},
            ]
        )
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        steps_per_epoch = math.ceil(len(self.cached) / args.batch_size)
        total = steps_per_epoch * epochs
        warmup = max(1, int(total * args.warmup))
        rng = random.Random(args.seed)
        step = 0
        for epoch in range(epochs):
            self.encoder.train()
            self.head.train()
            order = list(range(len(self.cached)))
            rng.shuffle(order)
            for start in range(0, len(order), args.batch_size):
                batch = order[start : start + args.batch_size]
                if step < warmup:
                    factor = (step + 1) / warmup
                else:
                    factor = 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
                for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                    group["lr"] = base_lr * factor
                hidden, mask = self._pad([self.cached[i] for i in batch])
                logits = self.head(self.encoder.forward_from_layer(hidden, mask, self.frozen))
                loss = functional.binary_cross_entropy_with_logits(logits, self.labels[batch])
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_([*trained.parameters(), *self.head.parameters()], 1.0)
                optimizer.step()
                step += 1
            if on_epoch is not None:
                on_epoch(epoch + 1)

    def _pad(self, rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(row.shape[0] for row in rows)
        hidden = torch.zeros((len(rows), width, self.encoder.config.hidden_size))
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, row in enumerate(rows):
            hidden[index, : row.shape[0]] = row
            mask[index, : row.shape[0]] = 1
        return hidden, mask

    def predict(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        self.encoder.eval()
        self.head.eval()
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(pairs), 64):
                batch = self.tokenizer(pairs[start : start + 64])
                pooled = self.encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids)
                scores.extend(float(v) for v in self.head(pooled))
        return np.array(scores)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    positive, negative = scores[labels == 1], scores[labels == 0]
    if not len(positive) or not len(negative):
        return float("nan")
    greater = (positive[:, None] > negative[None, :]).sum() + 0.5 * (positive[:, None] == negative[None, :]).sum()
    return float(greater / (len(positive) * len(negative)))


def cross_validate(args: argparse.Namespace, tokenizer: PairTokenizer, pairs: list[Pair]) -> dict[str, Any]:
    businesses = sorted({business for *_, business in pairs})
    random.Random(args.seed).shuffle(businesses)
    folds = [businesses[k :: args.cv] for k in range(args.cv)]
    per_epoch: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for k, held in enumerate(folds):
        train = [pair for pair in pairs if pair[3] not in held]
        test = [pair for pair in pairs if pair[3] in held]
        labels = np.array([label for _, _, label, _ in test])
        trainer = Trainer(args, tokenizer, train)

        def on_epoch(
            epoch: int, fold: int = k, trainer: Trainer = trainer, test: list[Pair] = test, labels: np.ndarray = labels
        ) -> None:
            scores = trainer.predict([(q, p) for q, p, _, _ in test])
            per_epoch.setdefault(epoch, []).append((labels, scores))
            print(f"  fold {fold + 1}/{args.cv} epoch {epoch}: AUC {auc(labels, scores):.3f}", flush=True)

        trainer.train(args.epochs, on_epoch)
    summary = {}
    for epoch, results in sorted(per_epoch.items()):
        labels = np.concatenate([labels for labels, _ in results])
        scores = np.concatenate([scores for _, scores in results])
        summary[epoch] = {
            "auc": round(auc(labels, scores), 4),
            "accuracy": round(float(((scores > 0) == (labels == 1)).mean()), 4),
        }
        print(f"cv epoch {epoch}: AUC {summary[epoch]['auc']} accuracy {summary[epoch]['accuracy']}", flush=True)
    return {"folds": args.cv, "grouped_by": "business", "per_epoch": summary}


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    pairs = [pair for path in args.data for pair in load_pairs(path)]
    businesses = len({pair[3] for pair in pairs})
    print(f"{len(pairs)} pairs, {businesses} businesses, {sum(pair[2] for pair in pairs)} answered", flush=True)
    tokenizer = PairTokenizer(max_tokens=args.max_tokens)
    cv = cross_validate(args, tokenizer, pairs) if args.cv else None
    trainer = Trainer(args, tokenizer, pairs)
    print(f"final model: {len(pairs)} pairs cached ({time.time() - started:.0f} s)", flush=True)
    trainer.train(
        args.epochs, lambda epoch: print(f"  epoch {epoch}/{args.epochs} ({time.time() - started:.0f} s)", flush=True)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(finetuned_state(trainer.encoder, trainer.head, trainer.frozen), str(args.out / LAYERS_FILE))
    metadata = {
        "model": "all-MiniLM-L6-v2 (bundled) as a cross-encoder: fine-tuned top layers + linear head, mean pooling",
        "max_tokens": args.max_tokens,
        "data_files": {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in args.data},
        "pairs": len(pairs),
        "cv": cv,
        "recipe": {k: v for k, v in vars(args).items() if k not in ("out", "data")},
        "training_seconds": round(time.time() - started),
        "torch": torch.__version__,
        "command": "python scripts/train_answerability.py " + " ".join(sys.argv[1:]),
    }
    (args.out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metadata, indent=2))


if __name__ == "__main__":
    main()
