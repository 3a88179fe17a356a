"""The curated small-talk set: greetings, thanks, "how are you?" and their replies, from owner-editable files.

Support desks ship such sets per persona because a small model asked "how are you?" may answer anything, and a
knowledge base asked it can only decline. Files live in `prompts/small_talk/<language>.toml` (an owner's
prompts folder overrides a bundled file of the same name). A message is small talk when every clause of it
matches an example closely (word by word, forgiving accents, punctuation, stretched letters and one-letter typos);
the reply comes from the person's language.
"""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.policy.signals import fold
from bot.prompts import BUNDLED_PROMPTS_DIR

log = logging.getLogger(__name__)

SMALL_TALK_FOLDER = "small_talk"
# A clause matches an example at this word-level F1 or more ("hey how are you" ~ "how are you": 0.86).
STRONG_MATCH = 0.85
# Between this and STRONG_MATCH a short message is "nearly small talk": the model may answer it, checked.
NEAR_MATCH = 0.6
# The kind whose reply wins when a message holds several ("hi! how are you?" is answered as "how are you").
PRIORITY = (
    "how_are_you",
    "who_are_you",
    "about_you",
    "joke",
    "what_can_you_do",
    "thanks",
    "goodbye",
    "nice_to_meet_you",
    "feeling_good",
    "compliment",
    "apology",
    "greeting",
    "laugh",
    "acknowledgement",
)
# Words that add nothing to small talk ("hi *there*", "thanks *so much*", "how are you *today*").
FILLERS = frozenset(
    [
        "there",
        "today",
        "again",
        "so",
        "much",
        "very",
        "really",
        "dear",
        "friend",
        "friends",
        "mate",
        "buddy",
        "pal",
        "guys",
        "all",
        "everyone",
        "folks",
        "please",
        "just",
        "oh",
        "well",
        "man",
        "then",
        "too",
        "bot",
        "hey",
        "hi",
        "ah",
        "um",
        "uh",
        "amigo",
        "amigos",
        "todos",
        "hoy",
        "muy",
        "mucho",
        "tout",
        "le",
        "monde",
        "aujourd'hui",
        "bien",
        "alle",
        "heute",
        "echt",
        "sehr",
        "tudo",
        "hoje",
        "muito",
        "gente",
        "呀",
        "啊",
        "吧",
        "呢",
        "了",
        "啦",
        "哦",
        "嘛",
        "的",
        "你",
        "您",
        # times of day and conversational padding ("how are you doing *this morning*", "how's everything *going*")
        "this",
        "morning",
        "afternoon",
        "evening",
        "tonight",
        "going",
        "doing",
        "anyway",
        "btw",
        "dude",
        "bro",
        "madame",
        "monsieur",
        "senor",
        "senora",
        "ciao",
        "hallo",
        "hola",
        "ola",
        "oi",
        "salut",
    ]
)
# Chat spelling, rewritten before matching on both sides ("how r u" -> "how are you", "thx" -> "thanks").
CHAT_SPELLING = {
    "u": ("you",),
    "r": ("are",),
    "ur": ("your",),
    "ya": ("you",),
    "im": ("i'm",),
    "whats": ("what's",),
    "hows": ("how's",),
    "wats": ("what's",),
    "wat": ("what",),
    "thx": ("thanks",),
    "thnx": ("thanks",),
    "thanx": ("thanks",),
    "tks": ("thanks",),
    "ty": ("thank", "you"),
    "tysm": ("thank", "you"),
    "pls": ("please",),
    "plz": ("please",),
    "cya": ("see", "you"),
    "wassup": ("what's", "up"),
    "wazzup": ("what's", "up"),
    "sup": ("what's", "up"),
    "gm": ("good", "morning"),
    "gn": ("good", "night"),
    "helo": ("hello",),
    "hii": ("hi",),
    "k": ("ok",),
    "kk": ("ok",),
    "okey": ("okay",),
}
_CLAUSES = re.compile(r"[,.!?;:¡¿。！？，、；：\n]+")
_WORD = re.compile(r"[\w']+|[\U0001F300-\U0001FAFF\u2600-\u27BF]", re.UNICODE)
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_STRETCHED = re.compile(r"(\w)\1{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class SmallTalkKind:
    """One kind of small talk in one language: what people send and what the bot may answer."""

    name: str
    language: str
    examples: tuple[tuple[str, ...], ...]  # each example as normalized words
    replies: tuple[str, ...]


@dataclass(frozen=True)
class SmallTalkMatch:
    """How a message matched the set: its kind, how closely (word F1 of its weakest clause), and the languages
    whose examples it matched best (a hint for the reply language when the detector cannot tell)."""

    kind: str
    score: float
    example_languages: tuple[str, ...]

    @property
    def strong(self) -> bool:
        return self.score >= STRONG_MATCH


def words(text: str) -> tuple[str, ...]:
    """Normalized words of a clause: folded, stretched letters shrunk ("hiii" -> "hi"), chat spelling written out
    ("how r u" -> "how are you"), fillers kept; Chinese characters count one word each."""
    folded = _STRETCHED.sub(r"\1", fold(text).replace("’", "'"))
    tokens: list[str] = []
    for token in _WORD.findall(folded):
        if _CJK.search(token):
            tokens.extend(token)
        else:
            token = token.strip("'")
            tokens.extend(CHAT_SPELLING.get(token, (token,)))
    return tuple(token for token in tokens if token)


def _close(a: str, b: str) -> bool:
    """Same word, or one edit apart for words of five letters or more ("thnaks" ~ "thanks" is two; "thanx" one)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (len(diffs) == 2 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def word_f1(clause: Sequence[str], example: Sequence[str]) -> float:
    """Word-level F1 between a clause and an example, fillers in the clause not counted against it."""
    if not clause or not example:
        return 0.0
    remaining = list(example)
    matched = 0
    unmatched_fillers = 0
    for word in clause:
        hit = next((index for index, candidate in enumerate(remaining) if _close(word, candidate)), None)
        if hit is None:
            # An emoji no example holds is decoration ("thanks 🙏"), like a filler word.
            unmatched_fillers += word in FILLERS or bool(_EMOJI.fullmatch(word))
            continue
        matched += 1
        remaining.pop(hit)
    counted = len(clause) - unmatched_fillers
    if matched == 0 or counted == 0:
        return 0.0
    precision = matched / counted
    recall = matched / len(example)
    return 2 * precision * recall / (precision + recall)


class SmallTalkSet:
    """Every kind of small talk in every language, loaded from the small-talk files."""

    def __init__(self, kinds: Sequence[SmallTalkKind]) -> None:
        self.kinds = tuple(kinds)
        self._by_language = {(kind.language, kind.name): kind for kind in kinds}
        self._vocative: frozenset[str] = frozenset()

    @classmethod
    def load(cls, folders: Sequence[Path] = ()) -> SmallTalkSet:
        """The bundled files, each replaced by a same-named file in an owner folder (`<folder>/small_talk/`)."""
        files: dict[str, Path] = {}
        for folder in [BUNDLED_PROMPTS_DIR, *folders]:
            for path in sorted((folder / SMALL_TALK_FOLDER).glob("*.toml")):
                files[path.stem] = path
        kinds: list[SmallTalkKind] = []
        for language, path in sorted(files.items()):
            kinds.extend(read_small_talk_file(path, language))
        return cls(kinds)

    def with_names(self, *names: str) -> SmallTalkSet:
        """The same set, also forgiving the bot's own name in a clause ("hi Sam")."""
        copy = SmallTalkSet(self.kinds)
        copy._vocative = frozenset(word for name in names for word in words(name))
        return copy

    def match(self, text: str) -> SmallTalkMatch | None:
        """The best small-talk kind for `text` when every clause of it is small talk, else None.

        A clause that starts with a greeting ("hi can you help me") is split into the greeting and the rest,
        and the rest must match too; the weakest clause decides the score.
        """
        if len(text) > 160:
            return None
        clauses = [words(clause) for clause in _CLAUSES.split(text)]
        clauses = [tuple(w for w in clause if w not in self._vocative) for clause in clauses]
        clauses = [clause for clause in clauses if clause]
        # A clause of emoji alone ("good morning!! ☀️") decorates the others; it decides only when it is all there is.
        worded = [clause for clause in clauses if not all(_EMOJI.fullmatch(word) for word in clause)]
        clauses = (
            [clause for clause in clauses if clause in worded or self._best(clause)[1] >= NEAR_MATCH]
            if worded
            else clauses
        )
        if not clauses:
            return None
        found: list[tuple[str, float, tuple[str, ...]]] = []
        for clause in clauses:
            best = self._best(clause)
            if best[1] < STRONG_MATCH and len(clause) > 1:
                head = self._best(clause[:1])
                if head[0] == "greeting" and head[1] >= STRONG_MATCH:
                    rest = self._best(clause[1:])
                    if rest[1] > best[1]:
                        found.append(head)
                        best = rest
            found.append(best)
        weakest = min(score for _, score, _ in found)
        if weakest < NEAR_MATCH:
            return None
        ranked = sorted(found, key=lambda item: PRIORITY.index(item[0]) if item[0] in PRIORITY else len(PRIORITY))
        kind, _, _ = ranked[0]
        languages = set.intersection(*(set(item[2]) for item in found)) or set(ranked[0][2])
        return SmallTalkMatch(kind, weakest, tuple(sorted(languages)))

    def opens_with_greeting(self, text: str) -> bool:
        """The message's first clause is a greeting ("Guten Abend, ...", "Oi, ..."), with more after it."""
        clauses = [words(clause) for clause in _CLAUSES.split(text)]
        clauses = [clause for clause in clauses if clause]
        if len(clauses) < 2:
            return False
        kind, score, _ = self._best(clauses[0])
        return kind == "greeting" and score >= STRONG_MATCH

    def _best(self, clause: Sequence[str]) -> tuple[str, float, tuple[str, ...]]:
        """The best kind for one clause, its score, and every language with an example scoring that high."""
        best_kind, best_score, languages = "", 0.0, set[str]()
        for kind in self.kinds:
            score = max((word_f1(clause, example) for example in kind.examples), default=0.0)
            if score > best_score + 1e-9:
                best_kind, best_score, languages = kind.name, score, {kind.language}
            elif abs(score - best_score) <= 1e-9 and score > 0 and kind.name == best_kind:
                languages.add(kind.language)
        return best_kind, best_score, tuple(sorted(languages))

    def reply(self, kind: str, language: str, turn_number: int, **values: str) -> str:
        """A reply of `kind` in `language` (English when that file lacks it), varied by `turn_number`."""
        chosen = self._by_language.get((language, kind)) or self._by_language.get(("en", kind))
        if chosen is None:
            chosen = next(item for item in self.kinds if item.name == kind)
        text = chosen.replies[turn_number % len(chosen.replies)]
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return text

    def has_language(self, language: str) -> bool:
        return any(kind.language == language for kind in self.kinds)


class SmallTalkFileError(ValueError):
    """A small-talk file cannot be read; the message names the file, the table and the reason."""


def read_small_talk_file(path: Path, language: str) -> list[SmallTalkKind]:
    """The kinds of one small-talk file; a broken file is an error naming the file, table and reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SmallTalkFileError(f"{path}: cannot read small-talk file: {exc}") from None
    kinds = []
    for name, table in data.items():
        if not isinstance(table, dict):
            raise SmallTalkFileError(f"{path}: [{name}] must be a table with 'examples' and 'replies'")
        examples, replies = _strings(table.get("examples")), _strings(table.get("replies"))
        if not examples or not replies:
            raise SmallTalkFileError(f"{path}: [{name}] needs non-empty lists of strings 'examples' and 'replies'")
        normalized = tuple(words(unicodedata.normalize("NFC", example)) for example in examples)
        kinds.append(SmallTalkKind(name, language, tuple(example for example in normalized if example), tuple(replies)))
    return kinds


def _strings(value: object) -> list[str]:
    """`value` when it is a list of non-blank strings, else an empty list."""
    if isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value):
        return [str(item) for item in value]
    return []
