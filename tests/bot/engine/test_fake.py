"""ScriptedEngine behaves like an Engine so other packages can test against it."""

from __future__ import annotations

from bot.engine.base import ChatTurn, Engine, GenerationRequest, GenerationSettings
from bot.engine.fake import ScriptedEngine


def _request(text: str = "hi", **settings: object) -> GenerationRequest:
    return GenerationRequest(messages=(ChatTurn("user", text),), settings=GenerationSettings(**settings))  # type: ignore[arg-type]


async def test_replies_in_order_then_default_and_records_requests() -> None:
    engine = ScriptedEngine(["one"], default_reply="fallback")
    engine.enqueue("two")
    await engine.start()
    texts = [(await engine.generate(_request(str(i)))).text for i in range(3)]
    assert texts == ["one", "two", "fallback"]
    assert [r.messages[0].content for r in engine.requests] == ["0", "1", "2"]
    assert isinstance(engine, Engine)


async def test_stream_honours_stop_strings_and_max_tokens() -> None:
    engine = ScriptedEngine(["hello there STOP hidden", "a b c d e"])
    pieces = [p async for p in engine.stream(_request(stop=(" STOP",)))]
    assert "".join(pieces) == "hello there"
    result = await engine.generate(_request(max_new_tokens=2))
    assert (result.text, result.finish_reason) == ("a b", "length")


def test_count_tokens_grows_with_text() -> None:
    engine = ScriptedEngine()
    assert engine.count_tokens([ChatTurn("user", "a b c")]) > engine.count_tokens([ChatTurn("user", "a")])
