"""Cache the engine model's hidden states of every JailbreakBench reply (and the benign pairs the probe reads) in
two framings, so the harm probe's variants can be compared by grouped CV without re-reading the model:

- ``pair``: the shipped framing (``bot.engine.hidden_states.PairTokens``: user request, assistant reply), mean and
  last-token pooling over the reply at each layer of ``--layers``;
- ``judge``: (request, reply) quoted inside a judge question (``bot.engine.hidden_states.HARM_JUDGE``), the
  last token's state and the reply tokens' mean at each layer.

One prefill per pair and framing through the deepest layer asked for, on one thread, with progress in the log.

    python scripts/harm_judge_features.py [--cache /tmp/moderation_judge] [--layers 12,15,18,21,24]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harm_hidden_features import engine_model

from bot.engine.hidden_states import HARM_JUDGE, JudgeTokens, PairTokens, StateRecipe, layer_states

MIN_FACTOR = 0.3


def read(
    model: torch.nn.Module,
    tokenizer: object,
    requests: list[str],
    replies: list[str],
    layers: tuple[int, ...],
    label: str,
) -> dict[str, np.ndarray]:
    """{framing_pooling: [pairs, layers, hidden] float16}."""
    recipe = StateRecipe()
    pair = PairTokens(tokenizer)  # type: ignore[arg-type]
    judge = JudgeTokens(tokenizer, HARM_JUDGE, recipe.request_tokens, recipe.reply_tokens)  # type: ignore[arg-type]
    out: dict[str, list[np.ndarray]] = {"pair_mean": [], "pair_last": [], "judge_last": [], "judge_mean": []}
    started, cpu = time.time(), time.process_time()
    for index, (request, reply) in enumerate(zip(requests, replies, strict=True)):
        ids, start = pair.build(request, reply, recipe)
        states = layer_states(model, ids, max(layers))
        out["pair_mean"].append(np.stack([states[k][start:].float().mean(0).numpy() for k in layers]))
        out["pair_last"].append(np.stack([states[k][-1].float().numpy() for k in layers]))
        ids, start, end = judge.build(request, reply)
        states = layer_states(model, ids, max(layers))
        out["judge_last"].append(np.stack([states[k][-1].float().numpy() for k in layers]))
        out["judge_mean"].append(np.stack([states[k][start:end].float().mean(0).numpy() for k in layers]))
        if index % 100 == 0:
            print(
                f"  {label}: {index}/{len(replies)} ({time.time() - started:.0f} s wall busy, "
                f"{time.process_time() - cpu:.0f} s CPU)",
                flush=True,
            )
    return {key: np.stack(value).astype(np.float16) for key, value in out.items()}


def main() -> None:
    from bot.evaluation.harm_data import load_harm_splits, pair_benign
    from bot.evaluation.moderation import shared_data_dir
    from bot.evaluation.moderation_report import regression_texts
    from bot.moderation.harm import HarmClassifier

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_dir())
    parser.add_argument("--cache", type=Path, default=Path("/tmp/moderation_judge"))
    parser.add_argument("--layers", default="12,15,18,21,24")
    parser.add_argument("--only", default="", help="comma-separated names to read (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    layers = tuple(int(v) for v in args.layers.split(","))
    splits = load_harm_splits(args.data)
    pair = HarmClassifier.load().pair
    assert pair is not None
    model, tokenizer = engine_model()
    args.cache.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, list[str], list[str], bool]] = []
    for split in ("fit", "calibration", "test"):
        jobs.append((f"jailbreak_{split}", list(splits.goals[split]), list(splits.jailbreak[split].texts), False))
    for split in ("calibration", "test"):
        requests, replies = pair_benign(splits.benign[split])
        jobs.append((f"benign_{split}", requests, replies, True))
    regression = regression_texts()
    jobs.append(
        ("regression", [regression[(i + 1) % len(regression)] for i in range(len(regression))], regression, True)
    )
    wanted = set(filter(None, args.only.split(",")))
    for name, requests, replies, gated in jobs:
        if wanted and name not in wanted:
            continue
        rows = np.arange(len(replies))
        if gated:  # pairs the request factor keeps below any threshold are never read by the probe
            factors = np.minimum(1.0, pair.request_scale * np.array(pair.request.score_batch(requests)))
            rows = np.flatnonzero(factors >= MIN_FACTOR)
        values = read(model, tokenizer, [requests[i] for i in rows], [replies[i] for i in rows], layers, name)
        np.savez(args.cache / f"{name}.npz", rows=rows, layers=np.array(layers), n=len(replies), **values)
        print(f"wrote {name}: {len(rows)} of {len(replies)} rows", flush=True)


if __name__ == "__main__":
    main()
