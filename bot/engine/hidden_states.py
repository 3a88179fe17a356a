"""The engine model's own hidden states over a (request, reply) pair, for the moderation gate's reply probe.

It exists because the strongest harm signal found (a logistic regression on SmolLM2's mid-layer states of the
reply tokens) needed a second copy of the 135M model in the process; this module reads the states from the
model the engine already holds (``bot.engine.direct_llama``'s ``DirectLlamaForCausalLM``, int8 or float32 as
loaded), running a prefill through the first K decoder layers only: no weights are copied, no KV cache is
touched, and the scheduler's attention path is not used (one causal sequence: plain SDPA, as in the model's
own test path). The moderation gate never imports this module; the app passes a ``EngineReplyFeatures`` to it
as its ``ReplyFeatureSource``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # torch is imported where a state is read: the app imports this module while it starts
    import torch
    from torch import nn

    from bot.engine.loader import LoadedModel

Pooling = Literal["mean", "last", "mean_last"]
POOLINGS: tuple[Pooling, ...] = ("mean", "last", "mean_last")
# The chat template's turn markers (SmolLM2 / ChatML), as the engine renders a conversation.
USER_OPEN = "<|im_start|>user\n"
TURN_CLOSE = "<|im_end|>\n"
ASSISTANT_OPEN = "<|im_start|>assistant\n"


class HiddenStatesUnavailable(RuntimeError):
    """The loaded model is not one whose layers this module can run (transformers models, other layouts)."""


class TokenEncoder(Protocol):
    """The engine's tokenizer (``ChatTokenizer`` or a transformers tokenizer): text to ids."""

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


@dataclass(frozen=True)
class StateRecipe:
    """Which states make one feature vector: after which decoder layer, pooled how, over how many tokens.

    ``layer`` counts decoder layers run (1 = after the first layer; transformers' ``hidden_states[layer]``);
    ``mean_last`` averages the last ``last_n`` reply tokens. Requests and replies are cut to ``request_tokens``
    and ``reply_tokens`` (the probe was trained with the same cuts); ``with_request`` False reads the reply alone.
    """

    layer: int = 18
    pooling: Pooling = "mean"
    last_n: int = 8
    request_tokens: int = 40
    reply_tokens: int = 96
    with_request: bool = True

    @property
    def name(self) -> str:
        pooled = f"mean_last{self.last_n}" if self.pooling == "mean_last" else self.pooling
        context = "pair" if self.with_request else "reply"
        return f"L{self.layer}:{pooled}:{context}:{self.request_tokens}/{self.reply_tokens}"


def _decoder(model: nn.Module) -> nn.Module:

    inner = getattr(model, "model", None)
    if not getattr(model, "packed_attention_builtin", False) or inner is None or not hasattr(inner, "inv_freq"):
        raise HiddenStatesUnavailable(
            f"{type(model).__name__} is not the engine's direct Llama model (bot.engine.direct_llama)"
        )
    return inner


def layer_states(model: nn.Module, token_ids: Sequence[int], layers: int) -> list[torch.Tensor]:
    """The residual stream of one causal sequence after the embeddings and after each of the first ``layers``
    decoder layers: ``layers + 1`` tensors [tokens, hidden] (the first is the embedding output). Layers past
    ``layers`` are never run. Raises ``HiddenStatesUnavailable`` for a model that is not a direct Llama."""
    import torch
    from torch import nn

    decoder = _decoder(model)
    blocks = decoder.layers
    assert isinstance(blocks, nn.ModuleList)
    if not 1 <= layers <= len(blocks):
        raise ValueError(f"layers must be 1..{len(blocks)}, not {layers}")
    if not token_ids:
        raise ValueError("no tokens to read")
    with torch.inference_mode():
        embed = decoder.embed_tokens
        assert isinstance(embed, nn.Embedding)
        ids = torch.tensor([list(token_ids)], dtype=torch.long, device=embed.weight.device)
        hidden = embed(ids)
        positions = torch.arange(ids.shape[1], device=ids.device)[None, :]
        inv_freq = decoder.inv_freq
        assert isinstance(inv_freq, torch.Tensor)
        freqs = positions[:, :, None].to(torch.float32) * inv_freq[None, None, :].to(hidden.device)
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos().to(hidden.dtype).unsqueeze(2), angles.sin().to(hidden.dtype).unsqueeze(2)
        states = [hidden[0]]
        for block in blocks[:layers]:
            hidden = block(hidden, cos, sin, None)
            states.append(hidden[0])
    return states


def pool(states: torch.Tensor, start: int, pooling: Pooling, last_n: int = 8) -> torch.Tensor:
    """One vector from the rows ``start:`` of ``states`` [tokens, hidden] (the reply's tokens), in float32."""
    rows = states[start:] if start < states.shape[0] else states[-1:]
    if pooling == "mean":
        return rows.float().mean(0)
    if pooling == "last":
        return rows[-1].float()
    return rows[-last_n:].float().mean(0)


class PairTokens:
    """Token ids of "<user> request <assistant> reply" in the chat template, and where the reply starts."""

    def __init__(self, tokenizer: TokenEncoder) -> None:
        self._tokenizer = tokenizer
        self._user, self._close = self._ids(USER_OPEN), self._ids(TURN_CLOSE)
        self._assistant = self._ids(ASSISTANT_OPEN)

    def _ids(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def build(self, request: str, reply: str, recipe: StateRecipe) -> tuple[list[int], int]:
        """The ids and the index of the reply's first token (a reply with no tokens pools the marker's state)."""
        body = self._ids(reply)[: recipe.reply_tokens]
        head = self._assistant
        if recipe.with_request:
            head = self._user + self._ids(request)[: recipe.request_tokens] + self._close + self._assistant
        return head + body, len(head)


@dataclass(frozen=True)
class JudgeFrame:
    """How a judge question quotes two texts: the label before each and the question after them."""

    first_label: str
    second_label: str
    question: str


# The harm check's framing (scripts/harm_judge_features.py): (request, reply) quoted inside a question about the
# reply; the last token's state reads it.
HARM_JUDGE = JudgeFrame(
    "Request: ", "\n\nReply: ", "\n\nDoes the reply give the harmful help the request asks for? Answer Yes or No."
)
# The knowledge base's pair reading (an experiment, scripts/kb_engine_pair_probe.py): a question and a candidate
# passage quoted inside a question about the passage.
PASSAGE_JUDGE = JudgeFrame("Question: ", "\n\nPassage: ", "\n\nDoes the passage answer the question? Answer Yes or No.")


class JudgeTokens:
    """Token ids of a judge question about two texts in the chat template, and where the second text sits: the
    last token's state reads the pair, the second text's tokens' mean reads that text."""

    def __init__(
        self, tokenizer: TokenEncoder, frame: JudgeFrame = HARM_JUDGE, first_tokens: int = 40, second_tokens: int = 96
    ) -> None:
        self._tokenizer = tokenizer
        self.first_tokens, self.second_tokens = first_tokens, second_tokens
        self._head = self._ids(USER_OPEN + frame.first_label)
        self._middle = self._ids(frame.second_label)
        self._tail = self._ids(frame.question) + self._ids(TURN_CLOSE) + self._ids(ASSISTANT_OPEN)

    def _ids(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def build(self, first: str, second: str) -> tuple[list[int], int, int]:
        """The ids and the second text's token span [start, end) (an empty one spans its label's last token)."""
        head = self._head + self._ids(first)[: self.first_tokens] + self._middle
        body = self._ids(second)[: self.second_tokens] or self._middle[-1:]
        return head + body + self._tail, len(head), len(head) + len(body)


class EngineReplyFeatures:
    """The ``ReplyFeatureSource`` the moderation gate receives when the in-process engine is loaded.

    Reads features of the reply the bot is about to send from the engine's own model (no second copy of the
    weights); the gate says which (a ``StateRecipe``'s fields, from its probe's weights file). Calls are
    serialised by a lock: they run on the caller's thread, beside the engine's scheduler thread, which only
    reads the same weights.
    """

    def __init__(self, model: nn.Module, tokenizer: TokenEncoder, model_name: str) -> None:
        _decoder(model)  # fail now, not on the first reply
        self._model = model
        self._tokens = PairTokens(tokenizer)
        self.name = model_name
        self._lock = threading.Lock()

    def reply_features(self, request: str, reply: str, recipe: Mapping[str, int | str | bool]) -> list[float]:
        """The pooled hidden state of ``reply`` read after ``request``, as ``recipe`` says."""
        chosen = StateRecipe(**recipe)  # type: ignore[arg-type]
        ids, start = self._tokens.build(request, reply, chosen)
        with self._lock:
            states = layer_states(self._model, ids, chosen.layer)
        return [float(value) for value in pool(states[chosen.layer], start, chosen.pooling, chosen.last_n)]


class LoadedEngine(Protocol):
    """An engine whose loaded model can be asked for (``TransformersEngine.loaded``, the background engine's)."""

    @property
    def loaded(self) -> LoadedModel: ...


class EngineFeaturesOnDemand:
    """``EngineReplyFeatures`` over an engine that may not have loaded yet: the model is looked up on the first
    reply to read (a reply the model generated, so the engine has loaded by then). For the app's wiring:
    ``build_gate(config, reply_features=EngineFeaturesOnDemand(engine))``."""

    def __init__(self, engine: LoadedEngine) -> None:
        self._engine = engine
        self._features: EngineReplyFeatures | None = None

    @property
    def name(self) -> str:
        return self._resolve().name

    def _resolve(self) -> EngineReplyFeatures:
        if self._features is None:
            loaded = self._engine.loaded
            self._features = EngineReplyFeatures(loaded.model, loaded.tokenizer, loaded.name)
        return self._features

    def reply_features(self, request: str, reply: str, recipe: Mapping[str, int | str | bool]) -> list[float]:
        return self._resolve().reply_features(request, reply, recipe)
