"""Fine-tune the bundled MiniLM encoder into the offensive-language classifier.

Recipe: OLID training file -> stratified held-out split (seed 13, 20%, never used here) -> a dev
split carved from the remaining training part (15%, for epoch selection and the decision threshold)
-> fine-tune the top transformer layers plus a linear head over mean pooling (embeddings and the
lowest ``--frozen-layers`` layers stay as bundled, and their outputs are computed once and cached,
which saves a third of the CPU time) -> after each epoch, keep the best (dev macro-F1) trained
layers + head as fp16 safetensors with a JSON metadata file. Only those layers ship. Texts are
normalised by ``--normalization`` (bot/moderation/normalization.py; recorded in the metadata so
inference applies the same one).

``--final-from RUN/offensive_classifier.json`` retrains a dev-selected run's recipe on fit+dev (all
non-held-out data) for that run's best epoch count and keeps its dev threshold and dev figures.

    python scripts/train_moderation.py [--olid ../shared/data/olid/olid-training-v1.0.tsv]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
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

from bot.evaluation.moderation import (
    DEFAULT_OLID_PATH,
    HELDOUT_FRACTION,
    HELDOUT_SEED,
    LabelledTexts,
    class_metrics,
    load_olid_tsv,
    split_heldout,
)
from bot.moderation.classifier import (
    LAYERS_FILE,
    METADATA_FILE,
    BinaryHead,
    default_weights_dir,
    finetuned_state,
)
from bot.moderation.embeddings_features import EncoderTokenizer, MiniLMEncoder
from bot.moderation.normalization import BASIC, NORMALIZATIONS

DEV_FRACTION = 0.15


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--olid", type=Path, default=DEFAULT_OLID_PATH, help="OLID training TSV")
    parser.add_argument("--out", type=Path, default=default_weights_dir(), help="weights directory")
    parser.add_argument("--seed", type=int, default=13, help="seed for dev split, init and shuffling")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--frozen-layers", type=int, default=2, help="lowest layers kept as bundled")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup", type=float, default=0.06, help="share of steps for linear warm-up")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--normalization",
        choices=NORMALIZATIONS,
        default=BASIC,
        help="text normalisation (bot/moderation/normalization.py)",
    )
    parser.add_argument("--threads", type=int, default=1, help="1 is fastest on a shared CPU")
    parser.add_argument(
        "--final-from",
        type=Path,
        default=None,
        help="metadata JSON of a dev-selected run: retrain its recipe on fit+dev for its best epoch count "
        "and keep its dev threshold (no dev evaluation; the held-out split stays untouched)",
    )
    return parser.parse_args()


# Recipe fields a final retrain copies from the dev-selected run.
_SELECTED_RECIPE = ("seed", "frozen_layers", "batch_size", "lr", "head_lr", "weight_decay", "warmup", "max_tokens")


def read_selection(args: argparse.Namespace) -> dict[str, Any]:
    """Adopt the recipe of the dev-selected run named by ``--final-from``; return its dev figures."""
    selected = json.loads(args.final_from.read_text(encoding="utf-8"))
    for name in _SELECTED_RECIPE:
        setattr(args, name, selected["recipe"][name])
    args.normalization = selected.get("normalization", BASIC)
    args.epochs = int(selected["best_epoch"])
    return {
        "dev_macro_f1": selected["dev_macro_f1"],
        "threshold": selected["threshold"],
        "best_epoch": args.epochs,
        "selected_run": {key: selected[key] for key in ("dev_macro_f1", "threshold", "best_epoch", "recipe")},
    }


def make_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort by length within chunks (less padding), then shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def predict(
    encoder: MiniLMEncoder, head: BinaryHead, tokenizer: EncoderTokenizer, texts: tuple[str, ...]
) -> np.ndarray:
    encoder.eval()
    head.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    scores = np.zeros(len(texts))
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            indices = order[start : start + 128]
            input_ids, attention_mask = tokenizer([texts[i] for i in indices])
            scores[indices] = torch.sigmoid(head(encoder(input_ids, attention_mask))).numpy()
    return scores


def best_threshold(labels: tuple[int, ...], scores: np.ndarray) -> tuple[float, float]:
    """Threshold maximising macro-F1 on a grid; returns (macro_f1, threshold)."""
    best = (0.0, 0.5)
    for threshold in np.arange(0.10, 0.91, 0.01):
        predictions = [int(s >= threshold) for s in scores]
        macro = (class_metrics(labels, predictions, 1).f1 + class_metrics(labels, predictions, 0).f1) / 2
        if macro > best[0]:
            best = (macro, float(round(threshold, 2)))
    return best


def main() -> None:
    args = parse_args()
    selection = read_selection(args) if args.final_from else None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.time()

    data = load_olid_tsv(args.olid)
    training = split_heldout(data, HELDOUT_FRACTION, HELDOUT_SEED).train
    fit_dev = split_heldout(training, DEV_FRACTION, args.seed)
    fit, dev = fit_dev.train, fit_dev.heldout
    if selection is not None:
        fit = LabelledTexts(fit.texts + dev.texts, fit.labels + dev.labels)
    print(f"fit {len(fit)}  dev {len(dev)}  (held-out {len(data) - len(training)} untouched)", flush=True)

    tokenizer = EncoderTokenizer(max_tokens=args.max_tokens, normalization=args.normalization)
    encoder = MiniLMEncoder.from_pretrained()
    head = BinaryHead(encoder.config.hidden_size)
    frozen = args.frozen_layers
    trained_layers = encoder.layers[frozen:]
    for parameter in [*encoder.embeddings.parameters(), *encoder.layers[:frozen].parameters()]:
        parameter.requires_grad_(False)

    cached: list[torch.Tensor] = [torch.empty(0)] * len(fit)
    by_length = sorted(range(len(fit)), key=lambda i: len(fit.texts[i]))
    with torch.inference_mode():
        for start in range(0, len(by_length), 128):
            indices = by_length[start : start + 128]
            input_ids, attention_mask = tokenizer([fit.texts[i] for i in indices])
            hidden = encoder.hidden_states_before(input_ids, attention_mask, frozen)
            for row, index in enumerate(indices):
                cached[index] = hidden[row, : int(attention_mask[row].sum())].clone()
    lengths = [int(hidden.shape[0]) for hidden in cached]
    print(f"cached layer-{frozen} inputs  {time.time() - started:.0f}s", flush=True)
    labels = torch.tensor(fit.labels, dtype=torch.float32)
    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(fit) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = int(total_steps * args.warmup)

    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, parameter in trained_layers.named_parameters():
        (no_decay if name.endswith("bias") or "norm" in name else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "lr": args.lr, "weight_decay": args.weight_decay},
            {"params": no_decay, "lr": args.lr, "weight_decay": 0.0},
            {"params": list(head.parameters()), "lr": args.head_lr, "weight_decay": 0.0},
        ]
    )
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    def lr_factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * progress))

    best_macro = -1.0
    step = 0
    for epoch in range(args.epochs):
        encoder.train()
        head.train()
        epoch_loss = 0.0
        for batch in make_batches(lengths, args.batch_size, rng):
            width = max(lengths[i] for i in batch)
            hidden = torch.zeros((len(batch), width, encoder.config.hidden_size))
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                hidden[row, : lengths[index]] = cached[index]
                attention_mask[row, : lengths[index]] = 1
            for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base_lr * lr_factor(step)
            logits = head(encoder.forward_from_layer(hidden, attention_mask, frozen))
            loss = functional.binary_cross_entropy_with_logits(logits, labels[batch])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([*trained_layers.parameters(), *head.parameters()], 1.0)
            optimizer.step()
            epoch_loss += float(loss.detach())
            step += 1
            if step % 50 == 0:
                print(
                    f"  step {step}/{total_steps} loss {epoch_loss / (step - epoch * steps_per_epoch):.4f} "
                    f"{time.time() - started:.0f}s",
                    flush=True,
                )
        if selection is not None:
            if epoch + 1 == args.epochs:
                save_checkpoint(args, encoder, head, frozen, started, len(data) - len(training), len(dev), selection)
            continue
        dev_scores = predict(encoder, head, tokenizer, dev.texts)
        macro, threshold = best_threshold(dev.labels, dev_scores)
        print(
            f"epoch {epoch + 1}: dev macro-F1 {macro:.4f} at threshold {threshold}  {time.time() - started:.0f}s",
            flush=True,
        )
        if macro > best_macro:
            best_macro = macro
            save_checkpoint(
                args,
                encoder,
                head,
                frozen,
                started,
                len(data) - len(training),
                len(dev),
                {"dev_macro_f1": round(macro, 4), "threshold": threshold, "best_epoch": epoch + 1},
            )


def save_checkpoint(
    args: argparse.Namespace,
    encoder: MiniLMEncoder,
    head: BinaryHead,
    frozen: int,
    started: float,
    n_heldout: int,
    n_dev: int,
    best: dict[str, Any],
) -> None:
    """Write the trained layers (fp16) + head (fp32) and the metadata JSON to ``args.out``."""
    state = finetuned_state(encoder, head, frozen)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out / LAYERS_FILE))
    metadata = {
        "model": "all-MiniLM-L6-v2 (bundled) + fine-tuned transformer layers + linear head, mean pooling",
        **best,
        "max_tokens": args.max_tokens,
        "normalization": args.normalization,
        "data_file": args.olid.name,
        "data_sha256": hashlib.sha256(args.olid.read_bytes()).hexdigest(),
        "heldout": {"fraction": HELDOUT_FRACTION, "seed": HELDOUT_SEED, "n": n_heldout},
        "dev": {"fraction": DEV_FRACTION, "seed": args.seed, "n": n_dev},
        "trained_on": "fit+dev (final retrain of the dev-selected recipe)" if args.final_from else "fit",
        "recipe": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k not in ("out", "olid", "final_from")
        },
        "training_seconds": round(time.time() - started),
        "torch": torch.__version__,
        "command": "python scripts/train_moderation.py " + " ".join(sys.argv[1:]),
    }
    (args.out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metadata, indent=2))


if __name__ == "__main__":
    main()
