"""A chat tokenizer from a model directory's `tokenizer.json` and chat template, without transformers.

The engine needs five things of a tokenizer: render a chat template, encode, decode, look up a special
token and know the end-of-sequence id. This class does them with the `tokenizers` library and a sandboxed
Jinja environment set up like transformers' (trim_blocks, lstrip_blocks), so prompts come out token for
token the same (tests/engine/test_direct_llama.py compares them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

TOKENIZER_FILE = "tokenizer.json"
TEMPLATE_FILE = "chat_template.jinja"


class ChatTokenizerUnavailable(Exception):
    """The directory lacks a tokenizer.json or a chat template (the caller falls back to transformers)."""


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _strftime_now(format_string: str) -> str:
    return datetime.now().strftime(format_string)


def _special_token(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


class ChatTokenizer:
    """Encodes chat prompts and decodes replies like the model's transformers tokenizer does."""

    def __init__(self, tokenizer: Tokenizer, chat_template: str, special_tokens: Mapping[str, str | None]) -> None:
        self._tokenizer = tokenizer
        self._chat_template_source = chat_template
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        environment.globals["raise_exception"] = _raise_exception
        environment.globals["strftime_now"] = _strftime_now
        environment.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
        self._template = environment.from_string(chat_template)
        self._special_tokens = dict(special_tokens)
        self.eos_token = special_tokens.get("eos_token")
        self.unk_token = special_tokens.get("unk_token")
        self.eos_token_id = self._id_of(self.eos_token)
        self.unk_token_id = self._id_of(self.unk_token)

    @classmethod
    def from_directory(cls, directory: Path) -> ChatTokenizer:
        """Read `tokenizer.json`, the special tokens of `tokenizer_config.json` and the chat template."""
        tokenizer_file = directory / TOKENIZER_FILE
        if not tokenizer_file.is_file():
            raise ChatTokenizerUnavailable(f"no {TOKENIZER_FILE} in {directory}")
        config_file = directory / "tokenizer_config.json"
        config: dict[str, Any] = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        template_file = directory / TEMPLATE_FILE
        if template_file.is_file():
            template = template_file.read_text(encoding="utf-8")
        elif isinstance(config.get("chat_template"), str):
            template = config["chat_template"]
        else:
            raise ChatTokenizerUnavailable(f"no chat template in {directory}")
        special = {
            name: _special_token(config.get(name)) for name in ("bos_token", "eos_token", "unk_token", "pad_token")
        }
        return cls(Tokenizer.from_file(str(tokenizer_file)), template, special)

    def _id_of(self, token: str | None) -> int | None:
        return None if token is None else self._tokenizer.token_to_id(token)

    def apply_chat_template(
        self,
        conversation: Sequence[Mapping[str, str]],
        tokenize: bool = False,
        add_generation_prompt: bool = False,
    ) -> str:
        """The prompt text the template renders (only `tokenize=False`, the engine's use)."""
        if tokenize:
            raise NotImplementedError("encode the rendered text with `encode`")
        return self._template.render(
            messages=list(conversation), add_generation_prompt=add_generation_prompt, **self._special_tokens
        )

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def convert_tokens_to_ids(self, token: str) -> int | None:
        """The token's id; the unknown token's id when the vocabulary lacks it (as transformers answers)."""
        token_id = self._tokenizer.token_to_id(token)
        return token_id if token_id is not None else self.unk_token_id

    def __deepcopy__(self, memo: dict[int, object]) -> ChatTokenizer:
        """A copy with its own `tokenizers` state, for the engine's worker thread."""
        return ChatTokenizer(
            Tokenizer.from_str(self._tokenizer.to_str()), self._chat_template_source, self._special_tokens
        )
