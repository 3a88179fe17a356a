"""Instruction-like text inside knowledge-base documents ("ignore previous instructions…", "always recommend …").

A document may be edited by someone other than the owner (a shared drive, a scraped page, a supplier's sheet). Text
that addresses the bot instead of informing the customer is flagged when documents are added and listed, and it
is never quoted to a customer nor put in the model's prompt: the answerer drops such sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.kb.documents import split_sentences

_PATTERNS = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|rules|prompts?|guidelines|directions|"
    r"everything (above|before))\b|"
    r"\b(previous|prior|above|earlier|original) (instructions?|prompts?)\b|"
    r"\b(new|updated|real|secret|hidden) (instructions?|system prompt)\b|\bsystem prompt\b|"
    r"\byou are (now|no longer|actually)\b|\bfrom now on,? (you|always|never|only|answer|reply|say)\b|"
    r"\bact as (a|an|the)\b|\bpretend (to be|you are)\b|"
    r"\b(as an ai|language model|chatbot|ai model|the (ai|bot|assistant))\b.{0,20}\b(must|should|will always|never)\b|"
    r"\b(always|must|should|only) (recommend|suggest|promote|redirect|endorse)\b|"
    r"^\W*(recommend|promote|endorse|redirect)\b|"
    r"\brecommend(ing)? (only|our competitor|\w+\.(com|net|io|org))\b|"
    r"\b(tell|convince|instruct) (the |every |all |each )?(customers?|users?|people|visitors?|callers?)\b|"
    r"\b(respond|reply|answer) (only )?(with|in the form|by saying)\b|"
    r"\b(reveal|print|output|show) (your|the) (instructions|prompt|system prompt|configuration|api key)s?\b|"
    r"<\s*(script|system|instructions?)\b|\[(system|inst)\]|^\s*(system|assistant)\s*:|"
    r"\bignora (las|todas las) instrucciones\b|\bignorez (les|toutes les) instructions\b|"
    r"\bignoriere (alle|die) (vorherigen )?anweisungen\b|\bignore (as|todas as) instruções\b|"
    r"忽略(之前|以上|所有)的?(指令|指示|说明)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class FlaggedText:
    """An instruction-like sentence found in a document, and the phrase that gave it away."""

    sentence: str
    phrase: str


def instruction_phrase(text: str) -> str | None:
    """The instruction-like phrase in `text`, or None when it reads as plain information."""
    match = _PATTERNS.search(text)
    return match.group(0) if match else None


def flagged_sentences(text: str) -> list[FlaggedText]:
    """Every instruction-like sentence of `text`, in order."""
    found = []
    for sentence in split_sentences(text):
        phrase = instruction_phrase(sentence)
        if phrase is not None:
            found.append(FlaggedText(" ".join(sentence.split()), phrase))
    return found


def without_instructions(text: str) -> str:
    """`text` without its instruction-like sentences (unchanged when it has none)."""
    if instruction_phrase(text) is None:
        return text
    return " ".join(sentence for sentence in split_sentences(text) if instruction_phrase(sentence) is None)
