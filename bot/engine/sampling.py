"""Choosing the next token from logits: greedy, or temperature / top-p / repetition penalty."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bot.engine.base import GenerationSettings


def make_generator(settings: GenerationSettings, device: torch.device) -> torch.Generator | None:
    """A seeded random generator for sampled requests (None for greedy ones)."""
    if settings.temperature <= 0:
        return None
    generator = torch.Generator(device=device)
    if settings.seed is not None:
        generator.manual_seed(settings.seed)
    else:
        generator.seed()
    return generator


def next_token(
    logits: torch.Tensor,
    settings: GenerationSettings,
    previous_tokens: Sequence[int],
    generator: torch.Generator | None,
) -> int:
    """Pick the next token id from one row of logits (shape [vocab])."""
    if settings.repetition_penalty != 1.0 and previous_tokens:
        logits = logits.clone()
        seen = torch.tensor(sorted(set(previous_tokens)), device=logits.device)
        picked = logits[seen]
        logits[seen] = torch.where(
            picked > 0, picked / settings.repetition_penalty, picked * settings.repetition_penalty
        )
    if settings.temperature <= 0 or generator is None:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits.float() / settings.temperature, dim=-1)
    if settings.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # Keep the smallest set whose mass reaches top_p (always at least the best token).
        sorted_probs[(cumulative - sorted_probs) > settings.top_p] = 0.0
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=generator).item())
