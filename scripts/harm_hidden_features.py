"""Hidden-state features of (request, reply) pairs from the engine's model, cached for the harm probe's training.

Read through exactly the path the bot ships (``bot.engine.hidden_states`` over the model ``load_model`` returns:
int8 weights by default, ``--float32`` for the drift check). One prefill per pair through the deepest layer asked
for; every layer of ``--layers`` is pooled three ways (mean over the reply, last reply token, mean of the last 8).

    python scripts/harm_hidden_features.py --split fit [--reply-only] [--float32] [--limit N] [--cache DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.engine.hidden_states import POOLINGS, PairTokens, StateRecipe, layer_states, pool

LAYERS = (6, 9, 12, 15, 18, 21, 24, 27, 30)
DEFAULT_CACHE = Path("/tmp/moderation_hs")


def engine_model(float32: bool = False) -> tuple[torch.nn.Module, object]:
    """The model and tokenizer as the in-process engine loads them (int8 unless ``float32``)."""
    from bot.engine.loader import load_model
    from bot.engine.settings import EngineSettings

    loaded = load_model(EngineSettings(quantize_int8=not float32), direct=True)
    return loaded.model, loaded.tokenizer


def extract(
    model: torch.nn.Module,
    tokenizer: object,
    requests: list[str],
    replies: list[str],
    recipe: StateRecipe,
    layers: tuple[int, ...] = LAYERS,
    label: str = "",
) -> np.ndarray:
    """[pairs, layers, poolings, hidden] float16 features (``recipe`` gives the cuts and the context)."""
    tokens = PairTokens(tokenizer)  # type: ignore[arg-type]
    rows, started = [], time.time()
    for index, (request, reply) in enumerate(zip(requests, replies, strict=True)):
        ids, start = tokens.build(request, reply, recipe)
        states = layer_states(model, ids, max(layers))
        rows.append(
            np.stack(
                [
                    np.stack([pool(states[layer], start, how, recipe.last_n).numpy() for how in POOLINGS])
                    for layer in layers
                ]
            ).astype(np.float16)
        )
        if index % 100 == 0:
            print(f"  {label}: {index}/{len(replies)} ({time.time() - started:.0f} s)", flush=True)
    return np.stack(rows)


def main() -> None:
    from bot.evaluation.harm_data import load_harm_splits, pair_benign
    from bot.evaluation.moderation import shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_dir())
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--split", choices=("fit", "calibration", "test"), required=True)
    parser.add_argument("--source", choices=("jailbreak", "benign", "regression"), default="jailbreak")
    parser.add_argument("--reply-only", action="store_true")
    parser.add_argument("--float32", action="store_true")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--min-factor", type=float, default=0.0, help="skip pairs whose request factor is lower")
    parser.add_argument("--layers", default=",".join(map(str, LAYERS)))
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = load_harm_splits(args.data)
    if args.source == "jailbreak":
        requests, replies = list(splits.goals[args.split]), list(splits.jailbreak[args.split].texts)
    elif args.source == "benign":
        requests, replies = pair_benign(splits.benign[args.split])
    else:  # the benign regression set, each text a reply to the next one (as `socialbot eval moderation` pairs it)
        from bot.evaluation.moderation_report import regression_texts

        replies = regression_texts()
        requests = [replies[(index + 1) % len(replies)] for index in range(len(replies))]
    kept = list(range(len(replies)))
    if args.min_factor > 0:  # pairs whose request gate caps the pair score below any threshold tried are skipped
        from bot.moderation.harm import HarmClassifier

        pair = HarmClassifier.load().pair
        assert pair is not None
        factors = [min(1.0, pair.request_scale * value) for value in pair.request.score_batch(requests)]
        kept = [index for index, factor in enumerate(factors) if factor >= args.min_factor]
        print(f"{len(kept)} of {len(replies)} pairs have a request factor >= {args.min_factor}", flush=True)
        requests, replies = [requests[i] for i in kept], [replies[i] for i in kept]
    if args.limit:
        requests, replies, kept = requests[: args.limit], replies[: args.limit], kept[: args.limit]
    layers = tuple(int(value) for value in args.layers.split(","))
    recipe = StateRecipe(with_request=not args.reply_only)
    model, tokenizer = engine_model(args.float32)
    name = f"{args.source}_{args.split}_{'reply' if args.reply_only else 'pair'}_{'f32' if args.float32 else 'int8'}"
    values = extract(model, tokenizer, requests, replies, recipe, layers, name)
    args.cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        args.cache / f"{name}{'_n' + str(args.limit) if args.limit else ''}.npz", x=values, layers=np.array(layers)
    )
    print(f"wrote {name}: {values.shape}")


if __name__ == "__main__":
    main()
