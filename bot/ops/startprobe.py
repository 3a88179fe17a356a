"""One measured start of the bot, run in a fresh process by `socialbot bench start` (prints JSON on stdout).

Parts: interpreter start, imports of the CLI, config, the parallel build (model, classifiers, store and
features), the engine's and features' start, the console adapter (ready: the prompt would show), and one
short reply through the full pipeline (what `socialbot ask` adds).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()
STARTED_EPOCH = time.time()

import argparse  # noqa: E402  (the clock starts before anything else is imported)
import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


async def _measure(config_path: str | None, question: str, spawned_at: float, sequential: bool) -> dict[str, object]:
    parts: dict[str, float] = {"interpreter": max(0.0, STARTED_EPOCH - spawned_at)}

    def since(mark: float) -> float:
        return time.perf_counter() - mark

    mark = time.perf_counter()
    import bot.cli.chat_cmd
    import bot.cli.main

    parts["imports.cli"] = since(mark)
    mark = time.perf_counter()
    from bot.config import load_config

    config = load_config(config_path)
    parts["config"] = since(mark)
    from bot.ops.startup import StartupTimings, build_app_in_parallel

    timings = StartupTimings()
    mark = time.perf_counter()
    if sequential:  # the way before: classifiers first, then the model (for comparison)
        from bot.moderation.factory import build_gate

        with timings.part("classifiers"):
            gate = build_gate(config)
        app = build_app_in_parallel(config, timings=timings, gate=gate)
    else:
        app = build_app_in_parallel(config, timings=timings)
    parts["build (parallel)"] = since(mark)
    parts.update(timings.parts)
    mark = time.perf_counter()
    await app.start()
    parts["engine+features start"] = since(mark)
    mark = time.perf_counter()
    from bot.plugin_registry import open_chat

    console = open_chat(app.platform_context(), "bench")
    await console.start()
    parts["console adapter"] = since(mark)
    ready_s = time.time() - spawned_at
    gate = app.gate
    resolve = getattr(gate, "resolve", None)
    if resolve is not None:  # how long after ready the background classifiers were done
        resolve()
    classifiers_done_s = time.time() - spawned_at
    from bot.messages import Author, ConversationKey, IncomingMessage

    mark = time.perf_counter()
    message = IncomingMessage(
        conversation=ConversationKey("cli", f"bench-{time.time_ns()}"),
        author=Author("operator", display_name="operator"),
        text=question,
        is_direct=True,
        author_is_admin=True,
    )
    replies = await app.manager.handle(message)
    parts["reply"] = since(mark)
    ask_s = time.time() - spawned_at
    await console.stop()
    await app.stop()
    _ = bot.cli.main
    return {
        "ready_s": ready_s,
        "classifiers_done_s": classifiers_done_s,
        "ask_s": ask_s,
        "parts": parts,
        "cpu": timings.cpu,
        "reply_text": " ".join(reply.text for reply in replies)[:200],
        "model_source": getattr(getattr(app.engine, "loaded", None), "source", None),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("--question", default="hi")
    parser.add_argument("--spawned-at", type=float, default=STARTED_EPOCH)
    parser.add_argument("--sequential", action="store_true", help="Load the classifiers before the model.")
    args = parser.parse_args(argv)
    result = asyncio.run(_measure(args.config, args.question, args.spawned_at, args.sequential))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
