"""Print the CLINC150 / Banking77 knowledge-base figures for chosen splits, optionally with a candidate decline
model in place of the shipped one (to compare fits on the tuning split before shipping one).

`socialbot eval conversation --no-model` prints the same figures for tuning / heldout / fresh next to the
conversation set; this script also runs "fresh2" and runs no conversation set. Each held-out split is looked at
once, at the end, when the choices are fixed (count every look in the stop note).

    python scripts/eval_kb_benchmarks.py --split tuning [--decline-model /tmp/candidate.json] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bot.kb.answering as answering
from bot.evaluation.kb_intents import BENCHMARKS, SPLITS, benchmark_figures, format_benchmark_figures, run_benchmark
from bot.kb.answerability import load_judge
from bot.kb.answering import KbSettings
from bot.kb.settings import KbSection
from bot.prompts import PromptLibrary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=SPLITS, action="append", required=True)
    parser.add_argument("--set", choices=BENCHMARKS, action="append", default=None)
    parser.add_argument("--decline-model", type=Path, default=None, help="a kb_decline.json to use instead")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures (with failures) here")
    args = parser.parse_args()
    if args.decline_model is not None:
        answering.DECLINE_MODEL_FILE = args.decline_model
        answering.shipped_decline_model.cache_clear()
    section = KbSection()
    judge = load_judge(section.answerability_judge)
    report: dict[str, object] = {}
    for name in args.set or BENCHMARKS:
        for split in args.split:
            started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
            rows = asyncio.run(
                run_benchmark(
                    name, split, PromptLibrary(), KbSettings.from_section(section), judge, section.lexical_weight
                )
            )
            figures = benchmark_figures(name, split, rows)
            cpu_ms = (resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu) * 1000 / max(1, len(rows))
            figures["cpu_ms_per_query_with_kb_build"] = round(cpu_ms, 1)
            report[f"{name}/{split}"] = figures
            print(format_benchmark_figures(figures), flush=True)
            print(f"  cpu per query          {cpu_ms:.0f} ms (user CPU, incl. building the KB; busy box)", flush=True)
            print(f"  wall                   {time.perf_counter() - started:.0f} s (busy)", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
