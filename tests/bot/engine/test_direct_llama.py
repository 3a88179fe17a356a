"""The direct loader (plain torch, no transformers): the same logits, prompts and engine replies as the
transformers model, read from the cache without copying, and a fallback for models it does not run."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bot.engine.base import ChatTurn, GenerationRequest, GenerationSettings
from bot.engine.chat_tokenizer import ChatTokenizer
from bot.engine.direct_llama import DirectLlamaForCausalLM, load_direct_llama
from bot.engine.loader import LoadedModel, load_direct, load_model
from bot.engine.model_cache import model_cache_dir
from bot.engine.settings import EngineSettings
from bot.engine.transformers_engine import TransformersEngine

pytestmark = pytest.mark.model

CONVERSATIONS = [
    [("user", "hi")],
    [("system", "You are Shopbot, a shop's assistant."), ("user", "¿Abrís el domingo? 你好 🙂")],
    [("user", "Tell me a story."), ("assistant", "Once upon a time..."), ("user", "Go on, but shorter.")],
]


@pytest.fixture(scope="module")
def cache_dir(model_settings: EngineSettings) -> Path:
    return model_cache_dir(model_settings)


@pytest.fixture(scope="module")
def direct_model(model_settings: EngineSettings) -> LoadedModel:
    return load_model(model_settings, progress=lambda _: None, direct=True)


def test_the_direct_model_computes_the_same_logits_as_transformers(
    direct_model: LoadedModel, loaded_model: LoadedModel
) -> None:
    assert isinstance(direct_model.model, DirectLlamaForCausalLM)
    ids = torch.tensor([loaded_model.tokenizer.encode("The capital of France is Paris, and the capital of")])
    with torch.inference_mode():
        direct_logits = direct_model.model(ids)
        reference = loaded_model.model(ids).logits
    assert torch.allclose(direct_logits, reference, atol=1e-4, rtol=0)


def test_the_chat_tokenizer_renders_encodes_and_decodes_like_transformers(
    direct_model: LoadedModel, loaded_model: LoadedModel
) -> None:
    ours, theirs = direct_model.tokenizer, loaded_model.tokenizer
    assert isinstance(ours, ChatTokenizer)
    for conversation in CONVERSATIONS:
        messages = [{"role": role, "content": content} for role, content in conversation]
        rendered = ours.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert rendered == theirs.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = ours.encode(rendered, add_special_tokens=False)
        assert ids == list(theirs.encode(rendered, add_special_tokens=False))
        assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
    for token in ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>"):
        assert ours.convert_tokens_to_ids(token) == theirs.convert_tokens_to_ids(token)
    assert (ours.eos_token_id, ours.unk_token_id) == (theirs.eos_token_id, theirs.unk_token_id)


def _request(turns: list[tuple[str, str]], conversation: str) -> GenerationRequest:
    return GenerationRequest(
        tuple(ChatTurn(role, content) for role, content in turns),  # type: ignore[arg-type]
        GenerationSettings(max_new_tokens=10),
        conversation_id=conversation,
    )


async def _replies(settings: EngineSettings, loaded: LoadedModel) -> list[str]:
    engine = TransformersEngine(settings, loaded=loaded)
    await engine.start()
    try:  # all at once (packed batch), then a follow-up that reuses the first conversation's keys/values
        first = await asyncio.gather(*(engine.generate(_request(c, f"c{i}")) for i, c in enumerate(CONVERSATIONS)))
        follow_up = [*CONVERSATIONS[0], ("assistant", first[0].text), ("user", "And then?")]
        return [result.text for result in first] + [(await engine.generate(_request(follow_up, "c0"))).text]
    finally:
        await engine.stop()


async def test_the_engine_gives_the_same_greedy_replies_with_either_loader(
    engine_settings: EngineSettings, direct_model: LoadedModel, loaded_model: LoadedModel
) -> None:
    assert await _replies(engine_settings, direct_model) == await _replies(engine_settings, loaded_model)


def test_the_weights_are_mapped_from_the_cache_file_not_copied(cache_dir: Path) -> None:
    model = load_direct_llama(cache_dir, torch.float32)
    weight = model.model.embed_tokens.weight
    assert model.lm_head.weight.data_ptr() == weight.data_ptr()  # tied, one tensor
    size = (cache_dir / "model.safetensors").stat().st_size
    with open("/proc/self/maps", encoding="utf-8") as maps:
        mapped = [line for line in maps if str(cache_dir / "model.safetensors") in line]
    assert mapped, "the weight file is not mapped"
    start, end = (int(part, 16) for part in mapped[0].split()[0].split("-"))
    assert start <= weight.data_ptr() < start + size and end - start >= size - 4096


def test_a_direct_load_imports_no_transformers(cache_dir: Path) -> None:
    script = (
        "import sys\nfrom pathlib import Path\nfrom bot.engine.loader import load_model\n"
        "from bot.engine.settings import EngineSettings\n"
        f"loaded = load_model(EngineSettings(cache_dir=Path({str(cache_dir.parent)!r})), lambda _: None, direct=True)\n"
        "print(type(loaded.model).__name__, 'transformers' in sys.modules)\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["DirectLlamaForCausalLM", "False"]


def test_a_model_it_does_not_run_falls_back_to_transformers(cache_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(cache_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["rope_scaling"] = {"rope_type": "linear", "factor": 2.0}
    (other / "config.json").write_text(json.dumps(config))
    assert load_direct(str(other), EngineSettings()) is None
    assert load_direct(str(tmp_path / "missing"), EngineSettings()) is None
