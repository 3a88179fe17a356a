"""One measured start of the bot, run in a fresh process by `socialbot bench start` (prints JSON on stdout).

It follows `socialbot chat`'s own path (bot/cli/chat_cmd.py): the config is read and the prompt would show; the
bot is built (`BackgroundStart`: store, features, commands — platforms could connect now) while the model and
classifiers load on their threads; the console connects; a line is "typed" at once, before the model is up,
and goes through the inbox like a typed one; the start finishes in the background and the line is answered.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()
STARTED_EPOCH = time.time()

import argparse  # noqa: E402  (the clock starts before anything else is imported)
import asyncio  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


async def _measure(config_path: str | None, question: str, spawned_at: float) -> dict[str, object]:
    parts: dict[str, float] = {"interpreter": max(0.0, STARTED_EPOCH - spawned_at)}

    def since(mark: float) -> float:
        return time.perf_counter() - mark

    def at() -> float:
        return time.time() - spawned_at

    mark = time.perf_counter()
    import bot.cli.chat_cmd
    import bot.cli.main

    parts["imports.cli"] = since(mark)
    mark = time.perf_counter()
    from bot.config import load_config

    config = load_config(config_path)
    parts["config"] = since(mark)
    ready_s = at()  # `socialbot chat` shows its prompt here (bot/cli/chat_cmd.py read_first_line)
    from bot.ops.startup import BackgroundStart

    mark = time.perf_counter()
    start = BackgroundStart(config)
    parts["build (store, features)"] = since(mark)
    built_s = at()  # platforms connect from here (`socialbot run`)
    app = start.app
    starting = start.begin()
    mark = time.perf_counter()
    from bot.plugin_registry import open_chat

    output = io.StringIO()
    line = io.StringIO(question + "\n")
    console = open_chat(app.platform_context(), f"bench-{time.time_ns()}", line, output)
    await console.start()
    parts["console adapter"] = since(mark)
    connected_s = at()
    mark = time.perf_counter()
    await console.run()  # the line is stored now and answered once the start is over
    parts["first reply (after start)"] = since(mark)
    first_reply_s = at()
    process_cpu_s = time.process_time()  # every thread's CPU so far: robust to what else the machine runs
    await starting
    await console.stop()
    await app.stop()
    _ = bot.cli.main, bot.cli.chat_cmd
    timings = start.timings
    parts.update(timings.parts)
    ended = {name: end - spawned_at for name, end in timings.ended_at.items()}
    return {
        "ready_s": ready_s,
        "built_s": built_s,
        "connected_s": connected_s,
        "model_loaded_s": ended.get("model"),
        "classifiers_done_s": ended.get("classifiers"),
        "engine_ready_s": (start.ready_at - spawned_at) if start.ready_at is not None else None,
        "first_reply_s": first_reply_s,
        "parts": parts,
        "cpu": timings.cpu,
        "process_cpu_s": process_cpu_s,
        "reply_text": output.getvalue().strip()[:200],
        "model_source": getattr(getattr(app.engine, "loaded", None), "source", None),
        "model_class": type(getattr(getattr(app.engine, "loaded", None), "model", None)).__name__,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("--question", default="hi")
    parser.add_argument("--spawned-at", type=float, default=STARTED_EPOCH)
    args = parser.parse_args(argv)
    result = asyncio.run(_measure(args.config, args.question, args.spawned_at))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
