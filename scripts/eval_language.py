"""Language detection: accuracy per language and first-call cost, for the detector settings we weigh.

Third-party text only: UMSAB tweets (8 languages), COLD comments (Chinese), CLINC150 and Banking77 queries
(English), read from ../shared/data. The tuning side is UMSAB val, COLD dev, CLINC150 val and Banking77 train;
the held-out side is a sample of UMSAB train, COLD train and Banking77 test (look at it once, after choosing on
the tuning side). Short texts are those of at most SHORT_WORDS words.
UMSAB's Hindi tweets are mostly romanised (Hinglish) or English: a Devanagari-only Hindi model cannot and should
not call those Hindi, so Hindi is scored on its Devanagari tweets and the romanised share is printed.

    python scripts/eval_language.py [--side tuning|heldout] [--per-language 400] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.sentiment import LANGUAGES
from bot.language import DEFAULT_LANGUAGES, LanguageDetector

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
UMSAB = LANGUAGES  # UMSAB folder -> language code
SHORT_WORDS = 6  # a text of at most this many words is a short chat message
OPTIONS: dict[str, dict[str, object]] = {
    "scripts + quick models first (before: no function words)": {"function_words": False},
    "scripts + quick models first + function words (after)": {"function_words": True},
    "scripts + full models + function words": {"function_words": True, "quick_margin": None},
}
# What the conversation said before: none, the text's own language ("right"), or another one ("wrong": English,
# French for English texts). A real conversation's earlier language is mostly right; "wrong" bounds the harm.
PRIORS = ("none", "right", "wrong")


def _devanagari(text: str) -> bool:
    return any(0x0900 <= ord(char) <= 0x097F for char in text)


def load_side(side: str, per_language: int, seed: int = 7) -> tuple[list[tuple[str, str, str]], dict[str, float]]:
    """(source, language, text) rows of one side, and notes (the romanised share of UMSAB Hindi)."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, str]] = []
    notes: dict[str, float] = {}
    for folder, code in UMSAB.items():
        name = "val_text.txt" if side == "tuning" else "train_text.txt"
        texts = [line.strip() for line in (DATA / "umsab" / folder / name).read_text(encoding="utf-8").splitlines()]
        texts = [text for text in texts if text]
        if code == "hi":
            notes["umsab hindi tweets without Devanagari"] = round(1 - sum(map(_devanagari, texts)) / len(texts), 3)
            texts = [text for text in texts if _devanagari(text)]
        rng.shuffle(texts)
        rows += [("umsab", code, text) for text in texts[:per_language]]
    with (DATA / "cold" / ("dev.csv" if side == "tuning" else "train.csv")).open(encoding="utf-8-sig") as handle:
        cold = [row["TEXT"] for row in csv.DictReader(handle) if row["TEXT"].strip()]
    rng.shuffle(cold)
    rows += [("cold", "zh", text) for text in cold[:per_language]]
    if side == "tuning":
        clinc = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        english = [text for text, _ in clinc["val"]]
        source = "clinc150"
        with (DATA / "banking77" / "train.csv").open(encoding="utf-8") as handle:
            banking = [row["text"] for row in csv.DictReader(handle)]
        rng.shuffle(banking)
        rows += [("banking77-train", "en", text) for text in banking[:per_language]]
    else:
        with (DATA / "banking77" / "test.csv").open(encoding="utf-8") as handle:
            english = [row["text"] for row in csv.DictReader(handle)]
        source = "banking77"
    rng.shuffle(english)
    rows += [(source, "en", text) for text in english[:per_language]]
    return rows, notes


def _prior(code: str, mode: str) -> str | None:
    if mode == "none":
        return None
    if mode == "right":
        return code
    return "fr" if code == "en" else "en"


def accuracy(
    detector: LanguageDetector, rows: list[tuple[str, str, str]], prior: str = "none"
) -> dict[str, dict[str, float]]:
    """Per source/language: share detected right (unreliable guesses count as wrong unless the default is
    right), all texts and short ones (<= SHORT_WORDS words). With quick models first, every text is scored as
    the first one."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for source, code, text in rows:
        if detector.quick_margin is not None:
            detector._full_models_loaded = False  # score each text as a one-shot `ask` would meet it
        right = detector.detect(text, _prior(code, prior)).code == code
        short = len(text.split()) <= SHORT_WORDS
        for key in (f"{source}:{code}", "all"):
            tally = hits[key]
            tally[0] += right
            tally[1] += 1
            if short:
                tally[2] += right
                tally[3] += 1
    return {
        key: {
            "accuracy": round(h[0] / h[1], 3),
            "n": h[1],
            "short_accuracy": round(h[2] / h[3], 3) if h[3] else float("nan"),
            "n_short": h[3],
        }
        for key, h in sorted(hits.items())
    }


def first_call_cost(options: dict[str, object], text: str = "where is my parcel") -> dict[str, float]:
    """CPU seconds and wall seconds of the first detection in a fresh process (import, build, load models)."""
    code = (
        "import time, resource, json\n"
        "from bot.language import LanguageDetector\n"
        f"detector = LanguageDetector(**{options!r})\n"
        "start = time.perf_counter(); cpu = time.process_time()\n"
        f"detector.detect({text!r})\n"
        "print(json.dumps({'wall_s': time.perf_counter() - start, 'cpu_s': time.process_time() - cpu,"
        " 'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    return {key: round(value, 3) for key, value in json.loads(result.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", choices=("tuning", "heldout"), default="tuning")
    parser.add_argument("--per-language", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-cost", action="store_true", help="skip the first-call cost subprocesses")
    args = parser.parse_args()
    rows, notes = load_side(args.side, args.per_language)
    report: dict[str, object] = {"side": args.side, "languages": list(DEFAULT_LANGUAGES), "notes": notes}
    for name, options in OPTIONS.items():
        entry: dict[str, object] = {}
        if not args.no_cost:
            entry["first_call"] = first_call_cost(options)
        if not args.json:
            print(f"\n{name}: {json.dumps(entry.get('first_call', {}))}", flush=True)
        for prior in PRIORS if options.get("function_words") else ("none",):
            started = time.process_time()
            scores = accuracy(LanguageDetector(**options), rows, prior)  # type: ignore[arg-type]
            entry[f"prior {prior}"] = {"scores": scores, "cpu_s_all_rows": round(time.process_time() - started, 2)}
            if args.json:
                continue
            print(f" earlier language: {prior}", flush=True)
            for key, value in scores.items():
                print(
                    f"  {key:16} {value['accuracy']:.3f} (n={value['n']})  short {value['short_accuracy']:.3f} "
                    f"(n={value['n_short']})"
                )
        report[name] = entry
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"\nnotes: {notes}")


if __name__ == "__main__":
    main()
