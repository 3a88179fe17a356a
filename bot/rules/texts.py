"""The fixed texts this feature says to members, in each supported language (admin replies stay English)."""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("en", "es", "de", "fr")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "rate_limited_user": "{user}, you're sending messages faster than I can answer. I'll answer again shortly.",
        "rate_limited_chat": "This chat is sending me a lot of messages; I'll answer again shortly.",
        "busy": "I'm busy right now, please try again in a moment.",
        "error": "Something went wrong on my side, please try again.",
    },
    "es": {
        "rate_limited_user": "{user}, envías mensajes más rápido de lo que puedo responder. Responderé en breve.",
        "rate_limited_chat": "Este chat me envía muchos mensajes; responderé de nuevo en breve.",
        "busy": "Ahora mismo estoy ocupado, inténtalo de nuevo en un momento.",
        "error": "Algo salió mal por mi parte, inténtalo de nuevo.",
    },
    "de": {
        "rate_limited_user": "{user}, du schreibst schneller, als ich antworten kann. Ich antworte gleich wieder.",
        "rate_limited_chat": "In diesem Chat kommen sehr viele Nachrichten an; ich antworte gleich wieder.",
        "busy": "Ich bin gerade beschäftigt, bitte versuche es gleich noch einmal.",
        "error": "Bei mir ist etwas schiefgelaufen, bitte versuche es noch einmal.",
    },
    "fr": {
        "rate_limited_user": "{user}, tu envoies des messages plus vite que je ne peux répondre. Je reviens vite.",
        "rate_limited_chat": "Ce chat m'envoie beaucoup de messages ; je répondrai de nouveau sous peu.",
        "busy": "Je suis occupé pour le moment, réessaie dans un instant.",
        "error": "Un problème est survenu de mon côté, réessaie.",
    },
}


def fixed_text(language: str, key: str, **values: str) -> str:
    """The text `key` in `language` (English when unknown), with `{name}` values filled in plainly."""
    template = TEXTS.get(language, TEXTS["en"]).get(key) or TEXTS["en"][key]
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template
