"""`socialbot ask`: one message, or many as JSON lines on stdin, through the full pipeline with the model loaded once.

Each call starts a fresh conversation unless `--chat-id` names one, so repeated calls never pile up history.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from bot.cli.main import CliContext, configure_logging, exit_without_teardown, fail, print_json, status
from bot.engine.base import EngineError
from bot.i18n import current_language
from bot.language import detect_language
from bot.messages import Author, ConversationKey, IncomingMessage
from bot.ops.control import ControlClient, ControlError, ControlHandler, connect_to_running_bot, control_socket_path

if TYPE_CHECKING:
    from bot.app import BotApp

OPERATOR = "operator"


@dataclass(frozen=True)
class AskRequest:
    """One message to answer: the conversation it belongs to, who wrote it, and its text."""

    chat_id: str
    user: str
    text: str


def fresh_chat_id() -> str:
    return f"ask-{uuid.uuid4().hex[:12]}"


def read_requests(lines: Iterator[str], chat_id: str | None) -> Iterator[AskRequest | str]:
    """Requests from JSON lines (`{"chat": ..., "user": ..., "text": ...}`, chat and user optional); a line that
    is not such an object yields an error message naming the line instead."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            yield f"line {number}: not JSON ({exc})"
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            yield f"line {number}: expected an object with a string 'text'"
            continue
        chat = row.get("chat")
        user = row.get("user")
        yield AskRequest(
            str(chat) if chat not in (None, "") else (chat_id or fresh_chat_id()),
            str(user) if user not in (None, "") else OPERATOR,
            row["text"],
        )


@click.command("ask")
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print reply, moderation verdict, sources and language as JSON.")
@click.option("--chat-id", default=None, help="Continue this conversation (default: a fresh one for each call).")
@click.pass_obj
def ask(ctx: CliContext, text: str | None, as_json: bool, chat_id: str | None) -> None:
    """Answer TEXT through the full pipeline and print the reply.

    With --json and no TEXT, read JSON lines from stdin ({"chat": "...", "user": "...", "text": "..."}; chat and
    user optional, each line without a chat in a fresh conversation) and print one JSON object per line, in order.
    """
    if text is None and not as_json:
        fail("give the message to answer, or use --json and send JSON lines on stdin")
    config = ctx.config()
    configure_logging("WARNING", config.settings.logging.file)
    running_bot = connect_to_running_bot(control_socket_path(config.database_path))
    if running_bot is not None:  # a `socialbot run` owns this database: it answers, nothing is loaded here
        with running_bot:
            _ask_running_bot(running_bot, text, as_json, chat_id)
        exit_without_teardown(0)
        return
    # One message: the classifiers load in the background from here, the model only if the reply needs it, and
    # no feature's warm-up, worker or schedule runs (this process exits after answering). A stream of messages
    # starts the whole bot, model included, as it will likely need everything.
    app = ctx.build_app(model_on_demand=text is not None)
    try:
        if text is not None:
            result = asyncio.run(
                _ask_all(app, iter([AskRequest(chat_id or fresh_chat_id(), OPERATOR, text)]), background_work=False)
            )[0]
            _print_answer(result, as_json)
        else:
            asyncio.run(_ask_stream(app, read_requests(iter(sys.stdin), chat_id)))
    except EngineError as exc:
        fail(f"model error: {exc}")
    # The event loop's worker threads have ended now: closing again closes their connections too (app.stop
    # could close only its own), so the WAL is checkpointed before the teardown is skipped.
    app.store.close()
    exit_without_teardown(0)


def _print_answer(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
    else:
        click.echo(result["reply"])


def _ask_running_bot(bot: ControlClient, text: str | None, as_json: bool, chat_id: str | None) -> None:
    """The same requests and output as in-process, answered by the running bot over its control socket."""
    try:
        if text is not None:
            result = bot.ask(_request_row(AskRequest(chat_id or fresh_chat_id(), OPERATOR, text)))
            if "error" in result:
                fail(f"the running bot could not answer: {result['error']}")
            _print_answer(result, as_json)
            return
        for request in read_requests(iter(sys.stdin), chat_id):
            print_json({"error": request} if isinstance(request, str) else bot.ask(_request_row(request)))
            sys.stdout.flush()
    except ControlError as exc:
        fail(f"{exc} ({bot.path})")


def _request_row(request: AskRequest) -> dict[str, object]:
    """A request as the control socket takes it: the same keys as a JSON line on stdin."""
    return {"chat": request.chat_id, "user": request.user, "text": request.text}


def control_handler(app: BotApp) -> ControlHandler:
    """How a running bot answers `socialbot ask` over its control socket: exactly like an in-process ask."""

    async def handle(row: dict[str, object]) -> dict[str, object]:
        chat, user = row.get("chat"), row.get("user")
        request = AskRequest(
            str(chat) if chat not in (None, "") else fresh_chat_id(),
            str(user) if user not in (None, "") else OPERATOR,
            str(row["text"]),
        )
        try:
            return await answer(app, request)
        except EngineError as exc:
            return {"error": f"model error: {exc}"}

    return handle


async def _ask_stream(app: BotApp, requests: Iterator[AskRequest | str]) -> None:
    await app.start(progress=status)
    try:
        for request in requests:
            if isinstance(request, str):
                print_json({"error": request})
                continue
            print_json(await answer(app, request))
            sys.stdout.flush()
    finally:
        await app.stop()


async def _ask_all(app: BotApp, requests: Iterator[AskRequest], background_work: bool = True) -> list[dict[str, Any]]:
    await app.start(progress=status, background_work=background_work)
    try:
        return [await answer(app, request) for request in requests]
    finally:
        await app.stop()


async def answer(app: BotApp, request: AskRequest) -> dict[str, Any]:
    """Send one request through the manager; the reply with its verdict, source, sources and language."""
    operator = request.user == OPERATOR
    message = IncomingMessage(
        conversation=ConversationKey("cli", request.chat_id),
        author=Author(request.user, display_name=request.user),
        text=request.text,
        is_direct=True,
        author_is_admin=operator,
    )
    replies = await app.manager.handle(message)
    result: dict[str, Any] = {
        "chat": request.chat_id,
        "reply": "",
        "decision": None,
        "reasons": [],
        "scores": {},
        "source": None,
        "details": {},
    }
    texts = []
    for reply in replies:
        if reply.conversation != message.conversation:
            continue  # a notice to the staff chat, not part of the answer
        texts.append(reply.text)
        if reply.stored_message_id is None:
            continue
        stored = app.store.get_message(reply.stored_message_id)
        app.dispatcher.record_sent(reply, f"cli-{stored.id}")
        if result["source"] is None:
            result["source"] = stored.source
            result["details"] = stored.details or {}
            decisions = app.store.moderation_for(stored.id)
            if decisions:
                result["decision"] = decisions[-1]["decision"]
                result["reasons"] = json.loads(decisions[-1]["reasons"])
                result["scores"] = json.loads(decisions[-1]["scores"])
            else:
                result["decision"] = "allow"
    result["reply"] = "\n".join(texts)
    details = result["details"]
    result["outcome"] = details.get("outcome", "answered" if texts else "no_reply")
    result["sources"] = details.get("sources", [])
    result["language"] = details.get("language") or current_language() or detect_language(request.text).code
    return result


COMMANDS = [ask]
