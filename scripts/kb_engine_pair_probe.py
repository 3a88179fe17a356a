"""Experiment (issue 16): does the engine model's own reading of (question, passage) tell close intents apart?

For every question of the decline fit (``scripts/fit_kb_decline.py``'s signal cache: CLINC150 and Banking77
training queries of tuning intents and unused Banking77 intents, CLINC150 out-of-scope training queries, the
eval/kb calibration split; never a held-out split), the top passage of hybrid retrieval over the fit's knowledge
base is read with the question through SmolLM2 (int8, as the engine loads it) in a judge framing
(``bot.engine.hidden_states.PASSAGE_JUDGE``): the last token's state and the passage tokens' mean at a few
layers, cached to ``--cache``. Then, under 5-fold cross-validation grouped by intent (the fit's folds):

- ``probe``: a logistic regression on one layer/pooling's states alone (answerable vs not);
- ``current``: the shipped decline model's recipe, a logistic regression on the answerer's confidence signals;
- ``current+probe``: the same signals plus the probe's score (stacked: inside each outer fold the probe's
  scores for the training rows are themselves out of fold, from an inner grouped split).

Printed per benchmark: AUC (answerable vs not, scored rows) and answer accuracy / decline recall at the
out-of-fold operating point (best accuracy + recall over all rows), as ``fit_kb_decline.py`` reports them.
The top passage is hybrid retrieval's, which is the passage the answerer cites in most rows, not always.

Result (issue 16; 1,327 fit questions, tuning intents only, no held-out split read; not shipped). Out of fold
(AUC, answer accuracy / decline recall at the common operating point):

    current (signals)    CLINC150 0.949, 0.760 / 0.947   Banking77 0.914, 0.772 / 0.890   shop 0.930
    probe alone          AUC 0.29-0.48 on CLINC150, 0.27-0.41 on Banking77 (every layer 9/15/21/27, last or mean)
    current+probe        CLINC150 0.952-0.965, Banking77 0.926-0.941 (best L9:mean 0.941, 0.825 / 0.906;
                         L15:mean 0.934, 0.836 / 0.887), shop 0.912-0.925 (lower than without it)

The probe reads which intents are documented, not whether the passage answers: with folds that ignore the intent
its AUC is 0.83-0.90, with folds by intent below 0.5, and the stacked decline model gives its score a negative
weight in every fold (standardised -0.3 to -1.5; checked for L9:last, L15:mean, L21:last): the combined gain is
the leave-one-intent-out inversion of a topic memory, which a knowledge base of other documents would not repeat.
Untrained, the model's own answer (``--zero-shot 400``: log P(Yes) - log P(No) after the prompt, 400 seeded
benchmark rows) is at chance: AUC CLINC150 0.496, Banking77 0.497, against the MiniLM judge's logit 0.815 and
0.613 on the same rows. Cost: 0.36 s CPU per pair through 27 layers (busy box, one thread), on top of the KB
answer's own time. Not integrated.

    python scripts/fit_kb_decline.py --threads 1 --cache /tmp/kbw/sig-tuning.json --out /tmp/x.json  # signals
    python scripts/kb_engine_pair_probe.py --signals /tmp/kbw/sig-tuning.json --cache /tmp/kb_pair
    python scripts/kb_engine_pair_probe.py --signals /tmp/kbw/sig-tuning.json --zero-shot 400
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_kb_decline import FEATURES, SEED, Row, _rows, fit_documents, operating_point

from bot.engine.hidden_states import PASSAGE_JUDGE, JudgeTokens, layer_states
from bot.evaluation.kb import DEFAULT_QUESTIONS
from bot.evaluation.kb_intents import load_benchmark
from bot.kb.answerability import passage_text
from bot.kb.knowledge_base import KnowledgeBase
from bot.store import Store

LAYERS = (9, 15, 21, 27)
POOLINGS = ("last", "mean")


def top_passages(rows: list[Row]) -> list[str]:
    """The hybrid top passage of each row's question over the knowledge base its signals were computed on."""
    passages = [""] * len(rows)
    with tempfile.TemporaryDirectory(prefix="socialbot-pair-") as folder:
        sources: dict[str, list[Path]] = {"shop": [DEFAULT_QUESTIONS.parent / "shop"]}
        for name in ("clinc150", "banking77"):
            benchmark = load_benchmark(name)
            documents = Path(folder) / name
            documents.mkdir()
            for index, intent in enumerate(fit_documents(benchmark, "tuning")):
                text = benchmark.documents[intent].markdown(answer_last=index % 2 == 1)
                (documents / f"{intent}.md").write_text(text, encoding="utf-8")
            sources[name] = [documents]
        for name, paths in sources.items():
            store = Store.open(Path(folder) / f"{name}.db")
            try:
                kb = KnowledgeBase(store, lexical_weight=0.2)
                kb.add_paths(paths)
                for index, row in enumerate(rows):
                    if row.question.group.startswith(name):
                        hits = kb.search(row.question.text, 1)
                        passages[index] = passage_text(hits[0].heading, hits[0].text) if hits else ""
            finally:
                store.close()
    return passages


def read_states(rows: list[Row], passages: list[str], cache: Path) -> np.ndarray:
    """[rows, poolings, layers, hidden] float16, read once and cached."""
    path = cache / "pair_states.npz"
    if path.exists():
        return np.load(path)["states"]
    from harm_hidden_features import engine_model

    model, tokenizer = engine_model()
    tokens = JudgeTokens(tokenizer, PASSAGE_JUDGE)  # type: ignore[arg-type]
    out = []
    started, cpu = time.time(), time.process_time()
    for index, (row, passage) in enumerate(zip(rows, passages, strict=True)):
        ids, start, end = tokens.build(row.question.text, passage)
        states = layer_states(model, ids, max(LAYERS))
        last = np.stack([states[k][-1].float().numpy() for k in LAYERS])
        mean = np.stack([states[k][start:end].float().mean(0).numpy() for k in LAYERS])
        out.append(np.stack([last, mean]))
        if index % 100 == 0:
            print(
                f"  {index}/{len(rows)} ({time.time() - started:.0f} s wall busy, "
                f"{time.process_time() - cpu:.0f} s CPU)",
                flush=True,
            )
    states_all = np.stack(out).astype(np.float16)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, states=states_all)
    return states_all


def zero_shot(rows: list[Row], sample: int) -> None:
    """The model's own answer, untrained: log P(Yes) - log P(No) after the judge prompt, on ``sample`` scored
    benchmark rows (seeded), beside the MiniLM judge's logit on the same rows."""
    from harm_hidden_features import engine_model

    picked = [i for i, row in enumerate(rows) if row.signals is not None and not row.question.group.startswith("shop")]
    random.Random(16).shuffle(picked)
    chosen = [rows[i] for i in sorted(picked[:sample])]
    passages = top_passages(chosen)
    model, tokenizer = engine_model()
    tokens = JudgeTokens(tokenizer, PASSAGE_JUDGE)  # type: ignore[arg-type]
    encode = tokenizer.encode  # type: ignore[attr-defined]
    yes = [encode(word, add_special_tokens=False)[0] for word in ("Yes", "yes")]
    no = [encode(word, add_special_tokens=False)[0] for word in ("No", "no")]
    layers = len(model.model.layers)  # type: ignore[union-attr, arg-type]
    scores, cpu = [], time.process_time()
    for row, passage in zip(chosen, passages, strict=True):
        ids, _, _ = tokens.build(row.question.text, passage)
        last = layer_states(model, ids, layers)[-1][-1:]
        with torch.inference_mode():
            logits = model.lm_head(model.model.norm(last[None]))[0, -1].float()  # type: ignore[operator]
        scores.append(float(torch.logsumexp(logits[yes], 0) - torch.logsumexp(logits[no], 0)))
    print(f"zero-shot: {(time.process_time() - cpu) / len(chosen):.3f} s CPU per pair ({layers} layers, busy)")
    y, values = np.array([row.answerable for row in chosen]), np.array(scores)
    for name in ("clinc150", "banking77"):
        mask = np.array([row.question.group.startswith(name) for row in chosen])
        judge = [row.signals["judge_logit"] for row, m in zip(chosen, mask, strict=True) if m and row.signals]
        print(
            f"{name} ({mask.sum()} rows): zero-shot Yes-No AUC {roc_auc_score(y[mask], values[mask]):.3f}, "
            f"MiniLM judge_logit AUC {roc_auc_score(y[mask], judge):.3f}",
            flush=True,
        )


def folds_of(rows: list[Row], folds: int, seed: int) -> np.ndarray:
    groups = sorted({row.question.group for row in rows})
    random.Random(seed).shuffle(groups)
    fold_of = {group: index % folds for index, group in enumerate(groups)}
    return np.array([fold_of[row.question.group] for row in rows])


def probe_scores(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, c: float) -> np.ndarray:
    scaler = StandardScaler().fit(x[train])
    model = LogisticRegression(C=c, max_iter=3000).fit(scaler.transform(x[train]), y[train])
    return np.asarray(model.decision_function(scaler.transform(x[test])))


def cross_validate(
    rows: list[Row], signals: np.ndarray, states: np.ndarray | None, scored: np.ndarray, c: float
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores of (the probe alone, the decline model with the probe's score or without it)."""
    y = np.array([row.answerable for row in rows])
    fold = folds_of(rows, 5, SEED)
    probe = np.full(len(rows), math.inf)
    decline = np.full(len(rows), math.inf)
    for k in range(5):
        train = np.flatnonzero((fold != k) & scored)
        test = np.flatnonzero((fold == k) & scored)
        features_train, features_test = signals[train], signals[test]
        if states is not None:
            inner = folds_of([rows[i] for i in train], 4, SEED + 1 + k)
            stacked = np.zeros(len(train))
            for j in range(4):
                part = inner == j
                stacked[part] = probe_scores(states, y, train[~part], train[part], c)
            probe[test] = probe_scores(states, y, train, test, c)
            features_train = np.column_stack([features_train, stacked])
            features_test = np.column_stack([features_test, probe[test]])
        model = LogisticRegression(C=1.0, max_iter=5000).fit(features_train, y[train])
        decline[test] = model.decision_function(features_test)
    return probe, decline


def random_fold_auc(rows: list[Row], x: np.ndarray, scored: np.ndarray, c: float) -> float:
    """The probe's AUC when folds ignore the intent (a control: the same intents sit on both sides)."""
    y = np.array([row.answerable for row in rows])
    fold = np.random.default_rng(SEED).integers(0, 5, len(rows))
    scores = np.zeros(len(rows))
    for k in range(5):
        train, test = np.flatnonzero((fold != k) & scored), np.flatnonzero(fold == k)
        scores[test] = probe_scores(x, y, train, test, c)
    return float(roc_auc_score(y[scored], scores[scored]))


def report(label: str, rows: list[Row], scores: np.ndarray, scored: np.ndarray) -> str:
    y = np.array([row.answerable for row in rows])
    threshold, _, _ = operating_point(rows, scores)
    parts = [f"{label:<28}"]
    for name in ("clinc150", "banking77", "shop"):
        picked = np.array([row.question.group.startswith(name) for row in rows])
        auc_rows = picked & scored
        auc = roc_auc_score(y[auc_rows], scores[auc_rows]) if len(set(y[auc_rows])) == 2 else float("nan")
        in_scope = picked & np.array([bool(row.question.documents) for row in rows])
        out = picked & ~in_scope
        accuracy = float(((scores >= threshold) & y & in_scope).sum() / in_scope.sum())
        recall = float(((scores < threshold) & out).sum() / out.sum())
        parts.append(f"{name} AUC {auc:.3f} acc {accuracy:.3f} decl {recall:.3f}")
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signals", type=Path, required=True, help="fit_kb_decline.py's --cache file")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/kb_pair"))
    parser.add_argument("--limit", type=int, default=0, help="read only the first N rows (a smoke run)")
    parser.add_argument("--c", type=float, default=0.05, help="the probe's inverse L2 strength")
    parser.add_argument("--zero-shot", type=int, default=0, help="only the untrained Yes/No reading, on N rows")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = _rows(json.loads(args.signals.read_text(encoding="utf-8"))["fit"])
    if args.zero_shot:
        zero_shot(rows, args.zero_shot)
        return
    if args.limit:
        rows = rows[: args.limit]
    passages = top_passages(rows)
    states = read_states(rows, passages, args.cache).astype(np.float32)
    scored = np.array([row.signals is not None for row in rows])
    signals = np.array([[row.signals[n] for n in FEATURES] if row.signals else [0.0] * len(FEATURES) for row in rows])
    _, current = cross_validate(rows, signals, None, scored, args.c)
    print(report("current (signals)", rows, current, scored), flush=True)
    for p, pooling in enumerate(POOLINGS):
        for layer_index, layer in enumerate(LAYERS):
            x = states[:, p, layer_index, :]
            probe, combined = cross_validate(rows, signals, x, scored, args.c)
            print(report(f"probe L{layer}:{pooling}", rows, probe, scored), flush=True)
            control = random_fold_auc(rows, x, scored, args.c)
            print(f"{'':<28} probe AUC with folds that ignore the intent (control): {control:.3f}", flush=True)
            print(report(f"current+probe L{layer}:{pooling}", rows, combined, scored), flush=True)


if __name__ == "__main__":
    main()
