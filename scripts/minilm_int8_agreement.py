"""How closely the int8 MiniLM kernel follows the float numpy forward: vectors and every consumer's decisions.

Scores a few hundred third-party texts (OLID training tweets, UMSAB English and Hindi val tweets, JailbreakBench
requests and replies; texts only, no label is read) once with the float forward and once with the int8 kernel,
each in its own process (``SOCIALBOT_MINILM_INT8`` is read when an encoder first runs), then prints how many
decisions differ: the offensive classifier at its threshold, the sentiment label, the request-harm model at 0.5,
and the cosine of the KB's sentence vectors.

Usage: .venv/bin/python scripts/minilm_int8_agreement.py [--per-set 300]
       .venv/bin/python scripts/minilm_int8_agreement.py --against-revision REV
The second form compares two versions of the int8 path instead: the code at REV (``git archive``; its kernel and the
Python that packs the kernel's weights) against the working tree's, on the same texts, and prints the largest
difference of every score, sentiment probability and KB vector (0.0 everywhere: the same numbers, so the same
decisions).
A measurement script, not part of the product.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def texts(per_set: int) -> dict[str, list[str]]:
    rng = random.Random(17)
    olid = [line.split("\t")[1] for line in (DATA / "olid" / "olid-training-v1.0.tsv").read_text().splitlines()[1:]]
    umsab = {
        code: (DATA / "umsab" / folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
        for code, folder in (("en", "english"), ("hi", "hindi"))
    }
    jbb = [json.loads(line) for line in (DATA / "jailbreakbench" / "responses.jsonl").read_text().splitlines()]
    sets = {
        "olid": olid,
        "umsab_en": umsab["en"],
        "umsab_hi": umsab["hi"],
        "jbb_requests": sorted({row["goal"] for row in jbb}),
        "jbb_replies": [row["response"] for row in jbb],
    }
    return {name: rng.sample(rows, min(per_set, len(rows))) for name, rows in sets.items()}


def score(per_set: int) -> dict[str, object]:
    import numpy as np

    from bot.embeddings import SentenceEncoder
    from bot.insight.sentiment import SentimentModel
    from bot.moderation.classifier import OffensiveClassifier
    from bot.moderation.harm import default_weights_dir, load_pair_models

    sets = texts(per_set)
    offensive = OffensiveClassifier.load()
    sentiment = SentimentModel.load()
    pair = load_pair_models(default_weights_dir())
    encoder = SentenceEncoder()
    everything = [text for rows in sets.values() for text in rows]
    scored = {name: sentiment.score_batch(sets[name]) for name in ("umsab_en", "umsab_hi")}
    result: dict[str, object] = {
        "offensive_threshold": offensive.threshold,
        "offensive": {name: offensive.score_batch(rows) for name, rows in sets.items()},
        "sentiment": {name: [item.label for item in scored[name]] for name in scored},
        "sentiment_probabilities": {
            name: [[item.scores[label] for label in sorted(item.scores)] for item in scored[name]] for name in scored
        },
        "kb_vectors": np.asarray(encoder.encode(everything)).tolist(),
    }
    if pair is not None:
        result["request_harm"] = {name: pair.request.score_batch(sets[name]) for name in ("jbb_requests", "olid")}
    return result


def compare(float_run: dict[str, object], int8_run: dict[str, object]) -> dict[str, object]:
    import numpy as np

    threshold = float(float_run["offensive_threshold"])  # type: ignore[arg-type]
    report: dict[str, object] = {}

    def decisions(kind: str, cut: float) -> None:
        for name, reference in float_run[kind].items():  # type: ignore[attr-defined]
            reference, got = np.asarray(reference), np.asarray(int8_run[kind][name])  # type: ignore[index]
            flipped = int(((reference >= cut) != (got >= cut)).sum())
            report[f"{kind}/{name}"] = {
                "texts": len(reference),
                "decisions_differ": flipped,
                "max_abs_probability_diff": round(float(np.abs(reference - got).max()), 4),
            }

    decisions("offensive", threshold)
    if "request_harm" in float_run:
        decisions("request_harm", 0.5)
    for name, reference in float_run["sentiment"].items():  # type: ignore[attr-defined]
        got = int8_run["sentiment"][name]  # type: ignore[index]
        report[f"sentiment/{name}"] = {
            "texts": len(reference),
            "labels_differ": sum(a != b for a, b in zip(reference, got, strict=True)),
        }
    a, b = np.asarray(float_run["kb_vectors"]), np.asarray(int8_run["kb_vectors"])
    cosines = (a * b).sum(1)
    report["kb_vectors"] = {
        "texts": len(a),
        "min_cosine": round(float(cosines.min()), 5),
        "mean_cosine": round(float(cosines.mean()), 6),
    }
    return report


def largest_differences(before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    """For each number the two runs produced, the largest absolute difference (and any label that differs)."""
    import numpy as np

    report: dict[str, object] = {}
    for kind in ("offensive", "request_harm", "sentiment_probabilities"):
        for name, reference in before.get(kind, {}).items():  # type: ignore[attr-defined]
            got = after[kind][name]  # type: ignore[index]
            report[f"{kind}/{name}"] = float(np.abs(np.asarray(reference) - np.asarray(got)).max())
    for name, reference in before["sentiment"].items():  # type: ignore[attr-defined]
        got = after["sentiment"][name]  # type: ignore[index]
        report[f"sentiment_labels_differ/{name}"] = sum(a != b for a, b in zip(reference, got, strict=True))
    kb_before, kb_after = np.asarray(before["kb_vectors"]), np.asarray(after["kb_vectors"])
    report["kb_vectors"] = float(np.abs(kb_before - kb_after).max())
    return report


def against_revision(revision: str, per_set: int) -> None:
    """Score the texts with the code at ``revision`` (kernel and the Python that packs its weights, from
    ``git archive``) and with the working tree's, each in its own process."""
    root = Path(__file__).resolve().parents[1]
    checkout = Path(tempfile.mkdtemp(prefix="minilm_int8_revision_"))
    archive = subprocess.run(["git", "archive", revision], cwd=root, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive.stdout, check=True)
    runs = []
    for index, tree in enumerate((checkout, root)):
        out = checkout / f"scores_{index}.json"
        # This script in both (its texts and what it records), the `bot` package from the tree on PYTHONPATH.
        command = [sys.executable, __file__, "--per-set", str(per_set)]
        environment = {**os.environ, "SOCIALBOT_MINILM_INT8": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tree)}
        subprocess.run([*command, "--score-only", str(out)], check=True, cwd=tree, env=environment)
        runs.append(json.loads(out.read_text()))
    shutil.rmtree(checkout)
    print(f"code at {revision} against the working tree's, largest absolute differences:")
    print(json.dumps(largest_differences(runs[0], runs[1]), indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=300)
    parser.add_argument(
        "--fine",
        action="append",
        help="products carrying a fine weight matrix (SOCIALBOT_MINILM_FINE), one run each; default: shipped",
    )
    parser.add_argument("--against-revision", help="compare the kernel source at this git revision with the tree's")
    parser.add_argument("--score-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.against_revision:
        against_revision(args.against_revision, args.per_set)
        return
    if args.score_only:
        args.score_only.write_text(json.dumps(score(args.per_set)))
        return
    runs = {}
    variants: list[str | None] = [None, *(args.fine or ["shipped"])]
    for index, fine in enumerate(variants):
        out = Path(f"/tmp/minilm_int8_agreement_{index}.json")
        environment = {**os.environ, "SOCIALBOT_MINILM_INT8": "0" if fine is None else "1", "OMP_NUM_THREADS": "1"}
        if fine not in (None, "shipped"):
            environment["SOCIALBOT_MINILM_FINE"] = fine
        command = [sys.executable, __file__, "--per-set", str(args.per_set), "--score-only", str(out)]
        subprocess.run(command, check=True, env=environment)
        runs[fine or "float"] = json.loads(out.read_text())
    for fine in variants[1:]:
        print(f"int8, fine weights for: {fine}")
        print(json.dumps(compare(runs["float"], runs[str(fine)]), indent=2))


if __name__ == "__main__":
    main()
