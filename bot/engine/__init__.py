"""Language-model engines: the in-process transformers engine and the OpenAI-compatible client."""
