"""The C decode-attention kernel: the same attention and the same stored keys/values as torch, built
once per machine, and a clean fallback to torch when no compiler is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from bot.engine.native_attention import (
    NativeAttentionError,
    NativeDecodeAttention,
    load_native_attention,
    reference_decode_attention,
)

needs_compiler = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="no C compiler")


CPU_FLAGS = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").exists() else ""
# Each vectorized path this CPU can run, built for it by naming an older CPU: AVX-512 ("native" here), AVX2.
MARCHES = ["native"] + (["x86-64-v3"] if " avx2" in CPU_FLAGS and " fma" in CPU_FLAGS else [])


@pytest.fixture(scope="module", params=MARCHES)
def kernel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> NativeDecodeAttention:
    built = load_native_attention(tmp_path_factory.mktemp("kernels"), require_simd=False, march=request.param)
    assert built is not None, "a C compiler is present, so the kernel must build and pass its self-check"
    return built


@needs_compiler
def test_each_cpu_gets_its_widest_vectorized_path(tmp_path: Path) -> None:
    native = load_native_attention(tmp_path, require_simd=False)
    assert native is not None
    assert native.simd_width == (16 if " avx512f" in CPU_FLAGS else 8 if " avx2" in CPU_FLAGS else 0)
    if " avx2" in CPU_FLAGS and " fma" in CPU_FLAGS:
        older = load_native_attention(tmp_path, require_simd=False, march="x86-64-v3")
        assert older is not None and older.simd_width == 8


def _case(dtype: torch.dtype, pasts: list[int], group: int = 3, kv_heads: int = 3, dim: int = 64, layers: int = 4):
    generator = torch.Generator().manual_seed(sum(pasts))
    buffers = [torch.randn((layers, 2, kv_heads, past + 1 + 64, dim), generator=generator).to(dtype) for past in pasts]
    tokens = len(pasts) + 2  # the packed batch also holds rows of other (prefilling) sequences
    queries = torch.randn((tokens, kv_heads, group, dim), generator=generator) * dim**-0.5
    new_kv = torch.randn((2, kv_heads, tokens, dim), generator=generator)
    rows = [2 + i for i in range(len(pasts))]
    return buffers, queries, new_kv, rows


@needs_compiler
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kernel_matches_torch_attention_and_stores_the_same_keys_and_values(
    kernel: NativeDecodeAttention, dtype: torch.dtype
) -> None:
    pasts = [0, 1, 15, 16, 17, 300, 1099]  # lengths on and off the 16-lane boundary
    buffers, queries, new_kv, rows = _case(dtype, pasts)
    expected_buffers = [buffer.clone() for buffer in buffers]
    out = torch.full_like(queries, float("nan"))
    kernel.attend(NativeDecodeAttention.group(buffers, pasts, rows, 3), 2, queries, new_kv, out)
    for buffer, expected_buffer, past, row in zip(buffers, expected_buffers, pasts, rows, strict=True):
        expected = reference_decode_attention(
            expected_buffer, 2, past, queries[row], new_kv[0, :, row].to(dtype), new_kv[1, :, row].to(dtype)
        )
        torch.testing.assert_close(out[row], expected, atol=1e-5, rtol=1e-4)
        assert torch.equal(buffer, expected_buffer)  # other layers and positions untouched
    assert torch.isnan(out[:2]).all()  # rows of other sequences are left to torch


@needs_compiler
def test_head_dims_off_the_vector_width_use_the_portable_path(kernel: NativeDecodeAttention) -> None:
    buffers, queries, new_kv, rows = _case(torch.bfloat16, [40, 7], group=2, kv_heads=2, dim=40)
    expected_buffers = [buffer.clone() for buffer in buffers]
    out = torch.zeros_like(queries)
    kernel.attend(NativeDecodeAttention.group(buffers, [40, 7], rows, 2), 0, queries, new_kv, out)
    for expected_buffer, past, row in zip(expected_buffers, [40, 7], rows, strict=True):
        expected = reference_decode_attention(
            expected_buffer, 0, past, queries[row], new_kv[0, :, row].bfloat16(), new_kv[1, :, row].bfloat16()
        )
        torch.testing.assert_close(out[row], expected, atol=1e-5, rtol=1e-4)


@needs_compiler
def test_unsupported_shapes_are_refused_before_anything_is_written(kernel: NativeDecodeAttention) -> None:
    buffers, queries, new_kv, rows = _case(torch.float32, [5], group=17, kv_heads=1)
    before = buffers[0].clone()
    with pytest.raises(NativeAttentionError):
        kernel.attend(
            NativeDecodeAttention.group(buffers, [5], rows, 17), 0, queries, new_kv, torch.zeros_like(queries)
        )
    assert torch.equal(buffers[0], before)
    assert not NativeDecodeAttention.supports(torch.float16, torch.device("cpu"), 3, 9, 64)
    assert not NativeDecodeAttention.supports(torch.bfloat16, torch.device("cuda"), 3, 9, 64)
    assert NativeDecodeAttention.supports(torch.bfloat16, torch.device("cpu"), 3, 9, 64)


@needs_compiler
def test_the_library_is_built_once_and_reused(tmp_path: Path) -> None:
    first = load_native_attention(tmp_path, require_simd=False)
    assert first is not None
    built_at = first.path.stat().st_mtime_ns
    load_native_attention.cache_clear()
    second = load_native_attention(tmp_path, require_simd=False)
    assert second is not None and second.path == first.path
    assert second.path.stat().st_mtime_ns == built_at
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary files left behind


def test_without_a_compiler_the_engine_keeps_torch_attention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    load_native_attention.cache_clear()
    try:
        assert load_native_attention(tmp_path / "kernels") is None
    finally:
        load_native_attention.cache_clear()
    assert "could not build the decode-attention kernel" in caplog.text
