"""Benchmarks (`socialbot bench …`): they build and measure a bot; the running bot never imports them."""
