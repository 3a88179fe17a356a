"""`socialbot eval moderation`: every figure of the gate per split, tuning and held-out side by side.

- OLID: the offensive classifier and the whole gate on OLID's held-out split (the trainer never saw it).
- Harm: JailbreakBench calibration behaviours (the threshold was chosen there: a tuning figure) and test
  behaviours (held out), benign text per source (test groups), the project's own eval replies (a demo set).
- COLD: the Chinese classifier on its calibration split (tuning) and on dev.csv (held out).
- The benign regression set: how many are blocked (must be 0), as replies and as user messages.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.evaluation import moderation as evaluation
from bot.evaluation.moderation import LabelledTexts, class_metrics
from bot.moderation.gate import scores_of
from bot.moderation.pii import remove_pii

if TYPE_CHECKING:
    from bot.evaluation.harm_data import HarmSplits
    from bot.moderation.harm import HarmClassifier

Progress = Callable[[str], None]
REGRESSION_FILE = Path(__file__).resolve().parents[1] / "moderation" / "data" / "benign_regression.txt"


def regression_texts(path: Path = REGRESSION_FILE) -> list[str]:
    """The benign regression set: texts the gate must never block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def _macro(labels: tuple[int, ...], predictions: list[int]) -> dict[str, float | int]:
    offensive = class_metrics(labels, predictions, 1)
    not_offensive = class_metrics(labels, predictions, 0)
    return {
        "macro_f1": round((offensive.f1 + not_offensive.f1) / 2, 4),
        "precision_offensive": round(offensive.precision, 4),
        "recall_offensive": round(offensive.recall, 4),
        "n": len(labels),
    }


def _harm(scores: list[float], data: LabelledTexts, threshold: float) -> dict[str, float | int]:
    harmful = [score >= threshold for score, label in zip(scores, data.labels, strict=True) if label]
    harmless = [score >= threshold for score, label in zip(scores, data.labels, strict=True) if not label]
    return {
        "recall": round(sum(harmful) / max(1, len(harmful)), 4),
        "false_block_rate": round(sum(harmless) / max(1, len(harmless)), 4),
        "n_harmful": len(harmful),
        "n_harmless": len(harmless),
    }


def gate_on_olid(progress: Progress, olid_path: Path) -> dict[str, Any]:
    """Classifier alone vs the whole gate (as replies) on OLID's held-out split: the gate must not be worse."""
    from bot.moderation.factory import standard_gate

    data = evaluation.heldout_olid(olid_path)
    gate = standard_gate()
    if gate.offensive is None:
        raise evaluation.EvaluationDataError("the offensive classifier is not available")
    progress(f"gate on {len(data)} OLID held-out tweets…")
    decisions = gate.check_outputs(list(data.texts))
    threshold = gate.policy.offensive_threshold
    # The gate's own English-model score is the classifier's score wherever it judged the raw text; only the
    # other tweets (judged elsewhere, or with PII cut) are scored again.
    reused = [
        decision.scores.get("offensive") if remove_pii(text) == text else None
        for text, decision in zip(data.texts, decisions, strict=True)
    ]
    missing = [index for index, score in enumerate(reused) if score is None]
    for index, score in zip(missing, scores_of(gate.offensive, [data.texts[i] for i in missing]), strict=True):
        reused[index] = score
    alone = [int(float(score or 0.0) >= threshold) for score in reused]
    reasons: dict[str, int] = {}
    for decision in decisions:
        for reason in decision.reasons:
            reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "classifier": _macro(data.labels, alone),
        "gate": _macro(data.labels, [int(decision.blocked) for decision in decisions]),
        "not_judged_by_english_model": sum("offensive" not in decision.scores for decision in decisions),
        "gate_reasons": dict(sorted(reasons.items())),
    }


def harm_splits_report(progress: Progress, data_dir: Path, own_eval: Path) -> dict[str, Any]:
    """The harm check per split (threshold from the calibration split) and on benign text per source."""
    from bot.evaluation.harm_data import load_harm_splits
    from bot.moderation.harm import HarmClassifier

    harm = HarmClassifier.load()
    splits = load_harm_splits(data_dir)
    progress("harm check on JailbreakBench calibration and test behaviours…")
    report: dict[str, Any] = {"threshold": harm.threshold}
    for split in ("calibration", "test"):
        data = splits.jailbreak[split]  # type: ignore[index]
        report[f"jailbreakbench_{split}"] = {
            **_harm(harm.score_batch(list(data.texts)), data, harm.threshold),
            "behaviours": len(splits.behaviours[split]),  # type: ignore[index]
        }
    benign: dict[str, dict[str, float | int]] = {}
    for source, texts in splits.benign["test"].items():
        blocked = sum(score >= harm.threshold for score in harm.score_batch(list(texts)))
        benign[source] = {"false_block_rate": round(blocked / max(1, len(texts)), 4), "n": len(texts)}
    total = sum(int(part["n"]) for part in benign.values())
    blocked_all = sum(round(float(part["false_block_rate"]) * int(part["n"])) for part in benign.values())
    report["benign_test"] = {"all": {"false_block_rate": round(blocked_all / max(1, total), 4), "n": total}, **benign}
    own = evaluation.load_labelled_jsonl(own_eval, "harmful")
    report["own_eval"] = _harm(harm.score_batch(list(own.texts)), own, harm.threshold)
    if harm.pair is not None:
        report["pair"] = pair_report(progress, harm, splits)
    return report


def pair_report(progress: Progress, harm: HarmClassifier, splits: HarmSplits) -> dict[str, Any]:
    """Pair mode: each JailbreakBench reply with its behaviour's goal as the request; benign text paired with
    benign text of the same source and split (no set here holds real benign request/reply pairs)."""
    from bot.evaluation.harm_data import pair_benign

    assert harm.pair is not None
    threshold = harm.pair.threshold
    progress("harm check, pair mode, on JailbreakBench calibration and test behaviours…")
    report: dict[str, Any] = {"threshold": threshold}
    for split in ("calibration", "test"):
        data = splits.jailbreak[split]  # type: ignore[index]
        scores = harm.score_pairs(list(splits.goals[split]), list(data.texts))  # type: ignore[index]
        report[f"jailbreakbench_{split}"] = {
            **_harm(scores, data, threshold),
            "behaviours": len(splits.behaviours[split]),  # type: ignore[index]
        }
    benign: dict[str, dict[str, float | int]] = {}
    for source, texts in splits.benign["test"].items():
        requests, replies = pair_benign({source: texts})
        blocked = sum(score >= threshold for score in harm.score_pairs(requests, replies))
        benign[source] = {"false_block_rate": round(blocked / max(1, len(texts)), 4), "n": len(texts)}
    total = sum(int(part["n"]) for part in benign.values())
    blocked_all = sum(round(float(part["false_block_rate"]) * int(part["n"])) for part in benign.values())
    report["benign_test"] = {"all": {"false_block_rate": round(blocked_all / max(1, total), 4), "n": total}, **benign}
    return report


def cold_report(progress: Progress, cold_dir: Path) -> dict[str, Any]:
    """The Chinese classifier on COLD dev.csv (held out) minus texts also in train.csv."""
    from bot.moderation.chinese import ChineseOffensiveClassifier

    classifier = ChineseOffensiveClassifier.load()

    def read(name: str) -> list[dict[str, str]]:
        with (cold_dir / name).open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))

    seen = {row["TEXT"] for row in read("train.csv")}
    rows = [row for row in read("dev.csv") if row["TEXT"] not in seen]
    progress(f"Chinese classifier on {len(rows)} COLD dev comments…")
    scores = classifier.score_batch([row["TEXT"] for row in rows])
    labels = tuple(int(row["label"]) for row in rows)
    return {"threshold": classifier.threshold, "test": _macro(labels, [int(s >= classifier.threshold) for s in scores])}


def regression_report() -> dict[str, Any]:
    """Blocks on the benign regression set with the shipped gate (must be 0 both ways)."""
    from bot.moderation.factory import standard_gate

    gate = standard_gate()
    texts = regression_texts()
    outputs = [text for text, d in zip(texts, gate.check_outputs(texts), strict=True) if d.blocked]
    inputs = [text for text, d in zip(texts, gate.check_inputs(texts), strict=True) if d.blocked]
    requests = [texts[(index + 1) % len(texts)] for index in range(len(texts))]
    decisions = gate.check_outputs(texts, requests=requests)
    paired = [text for text, d in zip(texts, decisions, strict=True) if d.blocked]
    return {
        "n": len(texts),
        "blocked_as_reply": outputs,
        "blocked_as_message": inputs,
        "blocked_as_paired_reply": paired,
    }


def full_report(progress: Progress, data_dir: Path, own_eval: Path) -> dict[str, Any]:
    """Everything above, reading the third-party sets from ``data_dir`` (test splits are never trained on)."""
    report: dict[str, Any] = {
        "olid_heldout": gate_on_olid(progress, data_dir / "olid" / "olid-training-v1.0.tsv"),
        "harm": harm_splits_report(progress, data_dir, own_eval),
        "cold": cold_report(progress, data_dir / "cold"),
        "benign_regression": regression_report(),
    }
    return report


def format_full_report(report: dict[str, Any]) -> str:
    """People-readable lines for :func:`full_report`."""
    olid, harm, cold = report["olid_heldout"], report["harm"], report["cold"]
    lines = [
        f"OLID held-out (n={olid['gate']['n']}): classifier macro-F1 {olid['classifier']['macro_f1']:.3f}, "
        f"whole gate {olid['gate']['macro_f1']:.3f}",
        f"Harm check (threshold {harm['threshold']:.3f}):",
    ]
    for split, label in (("jailbreakbench_calibration", "tuning"), ("jailbreakbench_test", "held out")):
        part = harm[split]
        lines.append(
            f"  JailbreakBench {split.split('_')[1]} ({label}, {part['behaviours']} behaviours): recall "
            f"{part['recall']:.3f} of {part['n_harmful']} harmful, false blocks {part['false_block_rate']:.3f} "
            f"of {part['n_harmless']} harmless"
        )
    for source, part in harm["benign_test"].items():
        lines.append(f"  benign test {source}: false blocks {part['false_block_rate']:.4f} (n={part['n']})")
    own = harm["own_eval"]
    lines.append(
        f"  own eval replies (demo set): recall {own['recall']:.3f}, false blocks {own['false_block_rate']:.3f}"
    )
    if "pair" in harm:
        pair = harm["pair"]
        lines.append(f"Harm check, pair mode (request + reply; threshold {pair['threshold']:.3f}):")
        for split, label in (("jailbreakbench_calibration", "tuning"), ("jailbreakbench_test", "held out")):
            part = pair[split]
            lines.append(
                f"  JailbreakBench {split.split('_')[1]} ({label}, {part['behaviours']} behaviours): recall "
                f"{part['recall']:.3f} of {part['n_harmful']} harmful, false blocks {part['false_block_rate']:.3f} "
                f"of {part['n_harmless']} harmless"
            )
        for source, part in pair["benign_test"].items():
            lines.append(f"  benign test pairs {source}: false blocks {part['false_block_rate']:.4f} (n={part['n']})")
    lines.append(f"COLD dev (held out, n={cold['test']['n']}): macro-F1 {cold['test']['macro_f1']:.3f}")
    regression = report["benign_regression"]
    lines.append(
        f"Benign regression set (n={regression['n']}): blocked as reply {len(regression['blocked_as_reply'])}, "
        f"as message {len(regression['blocked_as_message'])}, "
        f"as reply with a request {len(regression.get('blocked_as_paired_reply', []))}"
    )
    return "\n".join(lines)


def moderation_eval(olid: Path, harm_data: Path | None, fixture: bool, progress: Progress) -> dict[str, Any]:
    """What `socialbot eval moderation` prints: the classifier's flat OLID figures, harm figures, and per split.

    With ``fixture`` the OLID-format file is scored whole and the harm figures come from ``harm_data`` (the
    project's own eval set by default); otherwise the held-out splits of every third-party set are reported.
    """
    from bot.moderation.classifier import OffensiveClassifier
    from bot.moderation.harm import HarmClassifier

    own_eval = harm_data or evaluation.DEFAULT_HARM_EVAL_PATH
    texts = evaluation.load_offensive_file(olid) if fixture else evaluation.heldout_olid(olid)
    progress(f"loading classifiers; evaluating {len(texts)} texts…")
    classifier = OffensiveClassifier.load()
    offensive = evaluation.evaluate_offensive(classifier, texts, threshold=classifier.threshold)
    harm_classifier = HarmClassifier.load()
    harm = evaluation.evaluate_harm(
        harm_classifier, evaluation.load_labelled_jsonl(own_eval, "harmful"), threshold=harm_classifier.threshold
    )
    report = evaluation.evaluation_report_dict(offensive, harm)
    report["harm_set"] = own_eval.name
    if fixture:
        return report
    splits = full_report(progress, olid.parent.parent, own_eval)
    # The headline is the gate as shipped: the bot passes each reply's request, so pair mode when it ships.
    shipped = splits["harm"].get("pair", splits["harm"])
    test = shipped["jailbreakbench_test"]
    mode = "pair mode, request + reply" if "pair" in splits["harm"] else "reply only"
    report.update(
        {
            "harm_set": f"jailbreakbench test behaviours (held out; {mode})",
            "harm_mode": "pair" if "pair" in splits["harm"] else "reply",
            "harm_recall": test["recall"],
            "harm_false_block_rate": test["false_block_rate"],
            "harm_n_harmful": test["n_harmful"],
            "harm_n_harmless": test["n_harmless"],
            "splits": splits,
        }
    )
    return report


def format_moderation_eval(report: dict[str, Any]) -> str:
    table = evaluation.format_report_table(report)
    if "splits" not in report:
        return table + f"\n(harm figures on {report['harm_set']})"
    return table + f"\n(harm figures on {report['harm_set']})\n\nPer split:\n" + format_full_report(report["splits"])
