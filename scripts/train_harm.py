"""Train the harm check on bot replies (``bot/moderation/data/harm_train.jsonl``).

Recipe: the bundled MiniLM encoder with its top ``--trained-layers`` layers and a linear head
fine-tuned on the training file (ellipses stripped, the lower layers' outputs cached). The
decision threshold is chosen from 5-fold cross-validation on the training file only (the
highest-recall threshold whose out-of-fold false-block rate is at most ``--max-false-block``).
The separate ``harm_eval.jsonl`` is scored once at the end for the report, never for fitting.

    python scripts/train_harm.py
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.moderation.classifier import BinaryHead, finetuned_state, score_with_head
from bot.moderation.embeddings_features import EncoderTokenizer, MiniLMEncoder
from bot.moderation.evaluation import LabelledTexts, evaluate_harm, load_labelled_jsonl
from bot.moderation.harm import (
    HARM_LAYERS_FILE,
    HARM_MAX_TOKENS,
    HARM_METADATA_FILE,
    HarmClassifier,
    gate_refusals,
    strip_ellipses,
)

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "bot" / "moderation"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=PACKAGE_DIR / "data" / "harm_train.jsonl")
    parser.add_argument("--eval", type=Path, default=PACKAGE_DIR / "data" / "harm_eval.jsonl")
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR / "weights")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--trained-layers", type=int, default=2, help="top encoder layers to fine-tune")
    parser.add_argument("--max-false-block", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1, help="1 is fastest on a shared CPU")
    return parser.parse_args()


def fit(args: argparse.Namespace, data: LabelledTexts, seed: int) -> tuple[MiniLMEncoder, BinaryHead, int]:
    """Fine-tune the top layers + head on ``data``; returns (encoder, head, first trained layer)."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    encoder, tokenizer = MiniLMEncoder.from_pretrained(), EncoderTokenizer(max_tokens=HARM_MAX_TOKENS)
    head = BinaryHead(encoder.config.hidden_size)
    frozen = encoder.config.num_layers - args.trained_layers
    texts = [strip_ellipses(text) for text in data.texts]
    cached: list[torch.Tensor] = []
    with torch.inference_mode():
        for text in texts:
            input_ids, attention_mask = tokenizer([text])
            cached.append(encoder.hidden_states_before(input_ids, attention_mask, frozen)[0].clone())
    labels = torch.tensor(data.labels, dtype=torch.float32)
    trained = encoder.layers[frozen:]
    optimizer = torch.optim.AdamW(
        [
            {"params": list(trained.parameters()), "lr": args.lr, "weight_decay": 0.01},
            {"params": list(head.parameters()), "lr": args.head_lr, "weight_decay": 0.0},
        ]
    )
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    total_steps = args.epochs * math.ceil(len(texts) / args.batch_size)
    step = 0
    encoder.train()
    head.train()
    for _ in range(args.epochs):
        order = list(range(len(texts)))
        rng.shuffle(order)
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            width = max(cached[i].shape[0] for i in batch)
            hidden = torch.zeros((len(batch), width, encoder.config.hidden_size))
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                hidden[row, : cached[index].shape[0]] = cached[index]
                mask[row, : cached[index].shape[0]] = 1
            for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base_lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            loss = functional.binary_cross_entropy_with_logits(
                head(encoder.forward_from_layer(hidden, mask, frozen)), labels[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    return encoder.eval(), head.eval(), frozen


def gated_scores(encoder: MiniLMEncoder, head: BinaryHead, texts: tuple[str, ...]) -> np.ndarray:
    tokenizer = EncoderTokenizer(max_tokens=HARM_MAX_TOKENS)
    raw = score_with_head(encoder, head, tokenizer, [strip_ellipses(text) for text in texts])
    return np.array([gate_refusals(text, p) for text, p in zip(texts, raw, strict=True)])


def cross_validate(args: argparse.Namespace, data: LabelledTexts) -> tuple[float, dict[str, float]]:
    """Out-of-fold scores from 5 stratified folds; pick the threshold."""
    labels = np.asarray(data.labels)
    rng = np.random.default_rng(args.seed)
    fold_of = np.zeros(len(labels), dtype=int)
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold_of[members] = np.arange(len(members)) % 5
    oof = np.zeros(len(labels))
    for fold in range(5):
        train_rows = [int(i) for i in np.flatnonzero(fold_of != fold)]
        test_rows = [int(i) for i in np.flatnonzero(fold_of == fold)]
        encoder, head, _ = fit(args, data.subset(train_rows), args.seed + fold)
        oof[test_rows] = gated_scores(encoder, head, data.subset(test_rows).texts)
        print(f"  fold {fold + 1}/5 done", flush=True)
    best_threshold, best_recall = 0.5, -1.0
    for threshold in np.arange(0.05, 0.96, 0.01):
        recall = float((oof[labels == 1] >= threshold).mean())
        false_block = float((oof[labels == 0] >= threshold).mean())
        if false_block <= args.max_false_block and recall > best_recall:
            best_threshold, best_recall = float(round(threshold, 2)), recall
    predicted = oof >= best_threshold
    summary = {
        "threshold": best_threshold,
        "recall": round(float(predicted[labels == 1].mean()), 4),
        "false_block_rate": round(float(predicted[labels == 0].mean()), 4),
        "recall_at_0.5": round(float((oof[labels == 1] >= 0.5).mean()), 4),
        "false_block_rate_at_0.5": round(float((oof[labels == 0] >= 0.5).mean()), 4),
    }
    return best_threshold, summary


def main() -> None:
    args = parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    started = time.time()
    train = load_labelled_jsonl(args.train, "harmful")
    threshold, cv_summary = cross_validate(args, train)
    print(f"cross-validation: {cv_summary}", flush=True)
    encoder, head, frozen = fit(args, train, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(finetuned_state(encoder, head, frozen), str(args.out / HARM_LAYERS_FILE))
    metadata: dict[str, object] = {
        "model": "all-MiniLM-L6-v2 (bundled) + fine-tuned top layers + linear head; refusal phrase gate",
        "threshold": threshold,
        "max_tokens": HARM_MAX_TOKENS,
        "cv": cv_summary,
        "train_file": args.train.name,
        "n_train": len(train),
        "recipe": {k: v for k, v in vars(args).items() if not isinstance(v, Path)},
        "command": "python scripts/train_harm.py " + " ".join(sys.argv[1:]),
    }
    (args.out / HARM_METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    classifier = HarmClassifier.load(args.out)
    evaluation = evaluate_harm(classifier, load_labelled_jsonl(args.eval, "harmful"), classifier.threshold)
    metadata["eval"] = {
        "file": args.eval.name,
        "recall": round(evaluation.recall, 4),
        "false_block_rate": round(evaluation.false_block_rate, 4),
        "n_harmful": evaluation.n_harmful,
        "n_harmless": evaluation.n_harmless,
    }
    metadata["training_seconds"] = round(time.time() - started)
    (args.out / HARM_METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metadata, indent=2))


if __name__ == "__main__":
    main()
