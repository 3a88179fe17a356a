"""The action a question asks for ("cancel", "change", "increase"), and whether a passage speaks of it at all.

A question and a passage can share every noun and still be about different things: "How do I raise my credit
limit?" against "Your credit limit is shown in the app", "Can you cancel my purchase?" against a page on
cancellation fees of another service. The verb carries the difference. A passage that never mentions the asked
action (in any form: "raise", "raising", "increase", "higher") cannot say how to do it, whatever else it shares
with the question. The list is general customer-service vocabulary, not taken from any evaluation set.
"""

from __future__ import annotations

import re

# Each action and the word beginnings by which a passage speaks of it.
ACTIONS: dict[str, tuple[str, ...]] = {
    "activate": ("activ",),
    "add": ("add",),
    "apply": ("appl",),
    "block": ("block", "freez", "frozen"),
    "book": ("book",),
    "borrow": ("borrow", "loan"),
    "buy": ("buy", "bought", "purchas"),
    "cancel": ("cancel", "revert"),
    "change": ("chang", "reset", "updat", "edit"),
    "close": ("clos",),
    "deactivate": ("deactiv",),
    "decrease": ("decreas", "lower", "reduc"),
    "delay": ("delay",),
    "delete": ("delet",),
    "deposit": ("deposit",),
    "dispute": ("disput",),
    "downgrade": ("downgrad",),
    "edit": ("edit",),
    "exchange": ("exchang",),
    "extend": ("extend", "extension"),
    "fix": ("fix", "repair"),
    "freeze": ("freez", "frozen", "block"),
    "improve": ("improv",),
    "increase": ("increas", "rais", "higher"),
    "install": ("instal",),
    "lend": ("lend", "loan"),
    "link": ("link",),
    "lower": ("lower", "decreas", "reduc"),
    "move": ("mov",),
    "open": ("open",),
    "order": ("order",),
    "pay": ("pay", "paid"),
    "raise": ("rais", "increas", "higher"),
    "redeem": ("redeem", "redempt"),
    "reduce": ("reduc", "lower", "decreas"),
    "refund": ("refund",),
    "remove": ("remov",),
    "renew": ("renew",),
    "rent": ("rent",),
    "repair": ("repair", "fix"),
    "replace": ("replac",),
    "report": ("report",),
    "request": ("request",),
    "reschedule": ("reschedul",),
    "reserve": ("reserv",),
    "reset": ("reset", "chang"),
    "return": ("return",),
    "schedule": ("schedul",),
    "sell": ("sell", "sold"),
    "send": ("send", "sent"),
    "split": ("split",),
    "stop": ("stop", "block", "freez", "frozen", "cancel"),
    "subscribe": ("subscri",),
    "switch": ("switch",),
    "track": ("track",),
    "transfer": ("transfer",),
    "unblock": ("unblock", "unlock"),
    "unfreeze": ("unfreez",),
    "unlink": ("unlink",),
    "unlock": ("unlock", "unblock"),
    "unsubscribe": ("unsubscri",),
    "update": ("updat", "chang", "edit"),
    "upgrade": ("upgrad",),
    "verify": ("verif",),
    "withdraw": ("withdr",),
}
_WORD = re.compile(r"[a-z]+")


def _forms(verb: str) -> set[str]:
    stem = verb[:-1] if verb.endswith("e") else verb
    return {
        verb,
        f"{verb}s",
        f"{verb}es",
        f"{verb}d",
        f"{verb}ed",
        f"{stem}ing",
        f"{verb}{verb[-1]}ed",
        f"{verb}{verb[-1]}ing",
    }


_FORMS: dict[str, str] = {form: verb for verb in ACTIONS for form in _forms(verb)}


# Verbs that after a determiner are a noun saying nothing about the topic ("an update on my application", "my
# rent"), so no action is asked. Other verbs keep counting as nouns ("a fee for a transfer"): they name the topic.
_NOUN_USES = frozenset({"update", "rent"})
_DETERMINERS = frozenset({"a", "an", "the", "any", "this", "that", "my", "your", "our", "its"})


def asked_actions(question: str) -> set[str]:
    """The actions named in `question` (any inflection of a listed verb; "an update" and "my rent" are not)."""
    words = _WORD.findall(question.lower())
    return {
        _FORMS[word]
        for index, word in enumerate(words)
        if word in _FORMS and not (word in _NOUN_USES and index and words[index - 1] in _DETERMINERS)
    }


def missing_actions(question: str, passage: str) -> set[str]:
    """The actions `question` asks for that `passage` never speaks of."""
    words = set(_WORD.findall(passage.lower()))
    return {
        action
        for action in asked_actions(question)
        if not any(word.startswith(prefix) for word in words for prefix in ACTIONS[action])
    }
