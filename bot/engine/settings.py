"""Engine settings: one frozen record the config layer fills and every backend reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Backend = Literal["transformers", "openai"]
DType = Literal["float32", "bfloat16"]
KVDType = Literal["auto", "float32", "bfloat16"]

BUNDLED_SMOLLM2 = "bundled:smollm2"


@dataclass(frozen=True)
class EngineSettings:
    """How to load and serve the language model.

    It exists so the TOML config maps onto one typed, immutable value, and so tests and the
    benchmark can build engines without a config file. Defaults suit a small CPU box.
    """

    backend: Backend = "transformers"
    # "bundled:smollm2", a Hugging Face model id, or a local directory holding a model.
    model: str = BUNDLED_SMOLLM2
    # Where converted models are cached; None means ~/.cache/socialbot/models/<name>.
    cache_dir: Path | None = None
    dtype: DType = "float32"
    # Int8 weights for every Linear layer, read by a C kernel (bot/engine/int8_matmul.c): on a CPU with
    # float32 compute the default, because batch-1 decode is bound by reading the weights (a quarter of
    # float32's bytes). Elsewhere (CUDA, bfloat16) it does not apply. False keeps float32 weights.
    quantize_int8: bool = True
    # torch intra-op threads; 0 picks: one with int8 weights on a CPU (see ``torch_threads``), else
    # torch's default.
    threads: int = 0
    # "auto" picks CUDA when available, else CPU; or "cpu", "cuda", "cuda:1", ...
    device: str = "auto"
    # Requests waiting for a slot beyond this are refused at once with EngineBusy.
    max_queue: int = 32
    request_timeout_s: float = 120.0
    max_new_tokens_cap: int = 512
    max_concurrent_sequences: int = 16
    # How keys/values are stored. "auto": bfloat16 on CPU (half the memory and memory traffic;
    # attention still computes in the model dtype), else the model dtype.
    kv_dtype: KVDType = "auto"
    # Decode attention on CPU through a small C kernel, compiled once with the machine's C compiler
    # (falls back to torch when there is none): about twice as fast with many conversations.
    native_attention: bool = True
    # Decode-only steps of an int8 model on a CPU with every decoder layer in one C call
    # (bot/engine/fused_decode.c): the per-op Python and torch overhead was a third of a batch-1 step.
    fused_decode: bool = True
    # In those fused steps, int8 activations for the matmuls (AVX-512 VNNI; each row rounded to int8 twice
    # over, ~15 bits): fewer instructions per weight byte. False keeps float activations (the per-op path's
    # exact arithmetic). Without VNNI it does not apply.
    int8_activations: bool = True
    # Memory for keys/values of idle conversations kept for reuse on their next turn.
    kv_cache_budget_mb: int = 512
    # Prompt tokens prefilled per scheduler step, interleaved with other sequences' decoding.
    prefill_chunk_tokens: int = 256
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: str | None = field(default=None, repr=False)
    openai_model: str = "default"
    # Optional tokenizer (HF id or directory) for exact token counts with the openai backend.
    openai_tokenizer: str | None = None
    openai_connect_timeout_s: float = 10.0

    def int8_weights(self, device_type: str) -> bool:
        """Whether Linear weights are stored as int8 on a device of this type (``"cpu"``, ``"cuda"``)."""
        return self.quantize_int8 and device_type == "cpu" and self.dtype == "float32"

    def torch_threads(self, device_type: str) -> int:
        """The torch thread count to set, or 0 to leave torch's default.

        With int8 weights: one thread (measured on the 2-core development machine, see README "Engine
        defaults"); a set ``threads`` always wins.
        """
        if self.threads > 0:
            return self.threads
        return 1 if self.int8_weights(device_type) else 0

    def __post_init__(self) -> None:
        if self.max_queue < 0:
            raise ValueError("max_queue must be >= 0")
        if self.max_concurrent_sequences < 1:
            raise ValueError("max_concurrent_sequences must be >= 1")
        if self.max_new_tokens_cap < 1:
            raise ValueError("max_new_tokens_cap must be >= 1")
        if self.prefill_chunk_tokens < 1:
            raise ValueError("prefill_chunk_tokens must be >= 1")
        if self.kv_cache_budget_mb < 0:
            raise ValueError("kv_cache_budget_mb must be >= 0")
        if self.threads < 0:
            raise ValueError("threads must be >= 0")
        if self.request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be > 0")
        if self.backend not in ("transformers", "openai"):
            raise ValueError(f"unknown engine backend {self.backend!r}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"unsupported dtype {self.dtype!r}")
        if self.kv_dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"unsupported kv_dtype {self.kv_dtype!r}")
