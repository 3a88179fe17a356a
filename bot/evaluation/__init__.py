"""Evaluation and training-data tools: the sets, splits and reports behind `socialbot eval` and `scripts/train_*`.

The running bot never imports this package (tests/test_import_graph.py checks it); it ships in the wheel so the
`eval` commands work from an installed package, with the project's own sets under `sets/`.
"""

from pathlib import Path

# The project's own evaluation sets: the top-level eval/ folder, linked here so a wheel carries it.
SETS = Path(__file__).resolve().parent / "sets"
