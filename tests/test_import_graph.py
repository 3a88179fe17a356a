"""The import graph of `bot/` and `adapters/` has no circle, and the core imports no feature and no adapter.

Every import counts: module level, inside functions, and under `TYPE_CHECKING` (a type-only circle is still
a circle in the design). Features and platforms reach the core through `bot.plugin` / `bot.platform` and are
found through entry points, so nothing in the core names them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "adapters")
FEATURES = frozenset(
    {"automod", "dashboard", "insight", "kb", "memory", "ops", "policy", "privacy", "rules", "scheduling", "suggest"}
)
# The outer layers: the command line, the benchmarks and the evaluations may import anything; nothing imports
# them back.
TOOLS = frozenset({"cli", "benchmarks", "evaluation"})
# Features that still use another feature's modules (the dashboard is a UI over the others). This list may
# only shrink: a new entry means a feature reaching into another instead of using a core service.
FEATURE_TO_FEATURE_KNOWN = frozenset(
    {
        ("dashboard", "automod"),
        ("dashboard", "kb"),
        ("dashboard", "rules"),
        ("dashboard", "scheduling"),
        ("dashboard", "suggest"),
        ("insight", "privacy"),
        ("memory", "privacy"),
        ("policy", "kb"),
        ("privacy", "memory"),
        ("privacy", "scheduling"),
        ("scheduling", "suggest"),
    }
)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    found = modules()

    def resolve(name: str) -> str | None:
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in found.items():
        targets = {resolve(name) for name in imported_names(module, path)}
        graph[module] = {target for target in targets if target is not None and target != module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def area(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "adapters":
        return "adapters"
    if len(parts) > 1 and parts[1] in FEATURES:
        return parts[1]
    if len(parts) > 1 and parts[1] in TOOLS:
        return "tools"
    return "core"


def test_the_import_graph_has_no_circle() -> None:
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_imports_no_feature_and_no_adapter() -> None:
    graph = import_graph()
    reaching_out = {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if area(module) == "core" and area(target) != "core"
    }
    assert sorted(reaching_out) == []


def test_nothing_in_bot_imports_an_adapter() -> None:
    graph = import_graph()
    assert [
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if module.startswith("bot") and target.startswith("adapters")
    ] == []


def test_no_new_feature_reaches_into_another() -> None:
    graph = import_graph()
    pairs = {
        (area(module), area(target))
        for module, targets in graph.items()
        for target in targets
        if area(module) in FEATURES and area(target) in FEATURES and area(module) != area(target)
    }
    assert pairs <= FEATURE_TO_FEATURE_KNOWN, sorted(pairs - FEATURE_TO_FEATURE_KNOWN)


# Tools that build a whole bot to measure it or to start it (evaluations, benchmarks, the parallel start-up).
BUILDS_A_WHOLE_BOT = frozenset(
    {
        "bot.ops.doctor",
        "bot.ops.startup",
    }
)


def test_features_and_adapters_never_import_the_app() -> None:
    graph = import_graph()
    importers = {module for module, targets in graph.items() if "bot.app" in targets and area(module) != "tools"}
    assert importers <= BUILDS_A_WHOLE_BOT, sorted(importers - BUILDS_A_WHOLE_BOT)


def is_measuring_tool(module: str) -> bool:
    """Benchmarks, evaluations and measured start-ups: they build a bot to measure it."""
    name = module.rsplit(".", 1)[-1]
    return area(module) == "tools" or name in {"evaluation", "bench", "startbench", "startprobe"}


def test_the_running_bot_never_imports_a_benchmark_or_an_evaluation() -> None:
    graph = import_graph()
    running = ["bot.app", *(module for module in graph if module.endswith((".feature", ".plugin", ".platform")))]
    running += [module for module in graph if area(module) == "adapters"]
    reached: set[str] = set()
    while running:
        module = running.pop()
        if module not in reached:
            reached.add(module)
            running.extend(graph[module])
    assert sorted(module for module in reached if is_measuring_tool(module)) == []


def test_evaluation_and_benchmark_code_lives_only_in_its_own_packages() -> None:
    misplaced = [
        module
        for module in modules()
        if module.rsplit(".", 1)[-1] in {"evaluation", "bench", "intent_eval"} and area(module) != "tools"
    ]
    assert misplaced == []
