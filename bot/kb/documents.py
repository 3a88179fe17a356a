"""Reading owner documents (Markdown, text, HTML, FAQ CSV/JSON) into passages ready to index.

Parsing is pure: a file's text in, a `ParsedDocument` out, so every format is testable without a database.
Passages respect headings (a passage never spans two sections) and stay under a size the encoder and the
small model's prompt can take; FAQ rows become one passage each, keeping the curated answer apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.kb import KbError

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
FAQ_SUFFIXES = {".csv", ".json"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | FAQ_SUFFIXES
MAX_FILE_BYTES = 5_000_000

QUESTION_COLUMNS = ("question", "q", "questions", "title")
ANSWER_COLUMNS = ("answer", "a", "answers", "response")
LINK_COLUMNS = ("link", "url", "source")

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# "Questions: How do I ...? | Can I ...?" inside a section: phrasings the owner expects for it (see
# `ParsedPassage.questions`); the line is not part of the passage's text.
_QUESTIONS_LINE = re.compile(r"^\s*questions\s*:\s*(.+)$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class ParsedPassage:
    """One retrievable piece of a document: a section's text, or one FAQ question with its answer."""

    heading: str
    text: str
    question: str = ""
    answer: str = ""
    link: str = ""
    # Questions the owner wrote for this passage ("Questions:" lines of its section): each is embedded on its
    # own and the passage is found by the closest of them or its text, so one way of asking is not the only one.
    questions: tuple[str, ...] = ()

    @property
    def is_faq(self) -> bool:
        return bool(self.question)

    @property
    def content_hash(self) -> str:
        """Identity of the passage's content, so re-adding a file re-embeds only what changed."""
        digest = hashlib.sha256()
        for part in (self.heading, self.text, self.question, self.answer, self.link, *self.questions):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        return digest.hexdigest()

    @property
    def embedding_text(self) -> str:
        """What the encoder sees: heading (an FAQ row's question) and text (its answer)."""
        if self.is_faq:
            return f"{self.question}\n{self.answer}"
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class ParsedDocument:
    """A file read and split into passages, with the title shown to users as the answer's source."""

    source: str
    title: str
    kind: str  # "markdown", "text", "html" or "faq"
    passages: tuple[ParsedPassage, ...]

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256(self.title.encode("utf-8"))
        for passage in self.passages:
            digest.update(passage.content_hash.encode("ascii"))
        return digest.hexdigest()


def read_document(path: Path, max_chars: int = 700) -> ParsedDocument:
    """Parse the file at `path` by its suffix; raises `KbError` for unsupported, unreadable or empty files."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise KbError(f"{path}: unsupported file type {suffix or '(none)'}; use .md, .txt, .html, .csv or .json")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise KbError(f"{path}: file is larger than {MAX_FILE_BYTES // 1_000_000} MB; split it")
        raw = path.read_bytes()
    except OSError as exc:
        raise KbError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    if b"\x00" in raw[:4096]:
        raise KbError(f"{path}: looks like a binary file, not text")
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    source = str(path.resolve())
    fallback_title = _title_from_filename(path)
    if suffix in MARKDOWN_SUFFIXES:
        document = parse_markdown(text, source, fallback_title, max_chars)
    elif suffix in HTML_SUFFIXES:
        document = parse_html(text, source, fallback_title, max_chars)
    elif suffix == ".csv":
        document = parse_faq_csv(text, source, fallback_title)
    elif suffix == ".json":
        document = parse_faq_json(text, source, fallback_title)
    else:
        document = parse_text(text, source, fallback_title, max_chars)
    if not document.passages:
        raise KbError(f"{path}: no text found in the file")
    return document


def parse_markdown(text: str, source: str, fallback_title: str, max_chars: int = 700) -> ParsedDocument:
    """Sections split at headings; each passage carries its heading path ("Returns > Sale items").

    A section's "Questions: first? | second?" lines name questions it answers; every passage of the section
    carries them (`ParsedPassage.questions`).
    """
    title = ""
    stack: list[str] = []
    sections: list[tuple[str, list[str]]] = [("", [])]
    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            level, heading = len(match.group(1)), _strip_markdown(match.group(2))
            if level == 1 and not title:
                title = heading
            del stack[level - 1 :]
            stack.extend([""] * (level - 1 - len(stack)))
            stack.append(heading)
            sections.append((" > ".join(part for part in stack if part), []))
        else:
            sections[-1][1].append(line)
    title = title or fallback_title
    passages: list[ParsedPassage] = []
    for heading, lines in sections:
        questions, kept = _questions_of(lines)
        body = _strip_markdown("\n".join(kept))
        chunks = _chunk(heading or title, body, max_chars)
        passages.extend(replace(chunk, questions=questions) for chunk in chunks)
    return ParsedDocument(source, title, "markdown", tuple(passages))


def _questions_of(lines: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The questions named on a section's "Questions:" lines, and the section's other lines."""
    in_code = False
    questions: list[str] = []
    kept: list[str] = []
    for line in lines:
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _QUESTIONS_LINE.match(line)
        if match is None:
            kept.append(line)
            continue
        for question in match.group(1).split("|"):
            question = " ".join(_strip_markdown(question).split())
            if question and question not in questions:
                questions.append(question)
    return tuple(questions), kept


def parse_text(text: str, source: str, fallback_title: str, max_chars: int = 700) -> ParsedDocument:
    """Paragraph chunks; a short first line followed by a blank line is taken as the title."""
    lines = text.strip().splitlines()
    title = fallback_title
    if len(lines) > 2 and 0 < len(lines[0].strip()) <= 80 and not lines[1].strip():
        title = lines[0].strip()
        text = "\n".join(lines[2:])
    return ParsedDocument(source, title, "text", tuple(_chunk(title, text, max_chars)))


def parse_html(text: str, source: str, fallback_title: str, max_chars: int = 700) -> ParsedDocument:
    """Visible text of headings, paragraphs, list items and table cells, split at h1-h6 like Markdown."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for hidden in soup(["script", "style", "noscript", "template", "nav", "footer"]):
        hidden.decompose()
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    markdown_lines: list[str] = []
    for element in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "dt", "dd", "blockquote"]):
        if element.find_parent(["li", "tr", "dd", "blockquote"]) is not None and element.name in ("p", "li"):
            continue
        if element.name == "tr":
            content = " | ".join(cell.get_text(" ", strip=True) for cell in element.find_all(["td", "th"]))
        else:
            content = element.get_text(" ", strip=True)
        if not content:
            continue
        if element.name.startswith("h") and len(element.name) == 2:
            markdown_lines.append(f"{'#' * int(element.name[1])} {content}")
        else:
            markdown_lines.extend([content, ""])
    document = parse_markdown("\n".join(markdown_lines), source, title or fallback_title, max_chars)
    return ParsedDocument(source, title or document.title, "html", document.passages)


def parse_faq_csv(text: str, source: str, fallback_title: str) -> ParsedDocument:
    """Rows of a CSV with a header naming the question and answer columns (and optionally a link)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise KbError(f"{source}: empty CSV file")
    columns = {name.strip().lower(): name for name in reader.fieldnames if name}
    question_column = _pick_column(columns, QUESTION_COLUMNS, source)
    answer_column = _pick_column(columns, ANSWER_COLUMNS, source)
    link_column = next((columns[name] for name in LINK_COLUMNS if name in columns), None)
    rows = [
        (
            row.get(question_column) or "",
            row.get(answer_column) or "",
            (row.get(link_column) or "") if link_column else "",
        )
        for row in reader
    ]
    return ParsedDocument(source, fallback_title, "faq", _faq_passages(rows))


def parse_faq_json(text: str, source: str, fallback_title: str) -> ParsedDocument:
    """A list of `{"question", "answer"}` objects, or an object holding one under "faq"/"items"/"questions"."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KbError(f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    title = fallback_title
    if isinstance(data, dict):
        title = str(data.get("title") or fallback_title)
        data = next((data[key] for key in ("faq", "items", "questions") if isinstance(data.get(key), list)), None)
    if not isinstance(data, list):
        raise KbError(f'{source}: expected a list of {{"question": ..., "answer": ...}} objects')
    rows = []
    for item in data:
        if not isinstance(item, dict):
            continue
        lowered = {str(key).lower(): value for key, value in item.items()}
        question = next((lowered[name] for name in QUESTION_COLUMNS if name in lowered), "")
        answer = next((lowered[name] for name in ANSWER_COLUMNS if name in lowered), "")
        link = next((lowered[name] for name in LINK_COLUMNS if name in lowered), "")
        rows.append((str(question or ""), str(answer or ""), str(link or "")))
    return ParsedDocument(source, title, "faq", _faq_passages(rows))


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a passage, for extractive answers."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip(" -*\t")
        if line:
            sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


# helpers ----------------------------------------------------------------------------------------------


def _faq_passages(rows: list[tuple[str, str, str]]) -> tuple[ParsedPassage, ...]:
    passages = []
    for question, answer, link in rows:
        question, answer = " ".join(question.split()), answer.strip()
        if question and answer:
            passages.append(ParsedPassage(question, f"{question}\n{answer}", question, answer, link.strip()))
    return tuple(passages)


def _pick_column(columns: dict[str, str], candidates: tuple[str, ...], source: str) -> str:
    for name in candidates:
        if name in columns:
            return columns[name]
    raise KbError(
        f"{source}: CSV needs a column named one of {', '.join(candidates)} (found: {', '.join(columns) or 'none'})"
    )


def _title_from_filename(path: Path) -> str:
    name = re.sub(r"[_\-]+", " ", path.stem).strip()
    return name.upper() if len(name) <= 3 else name.capitalize() or path.name


_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


def _strip_markdown(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    return re.sub(r"<[^>\n]+>", "", text)


def _chunk(heading: str, body: str, max_chars: int) -> list[ParsedPassage]:
    """Paragraphs packed into passages of at most `max_chars`; a longer paragraph is cut at sentences."""
    paragraphs = [
        "\n".join(" ".join(line.split()) for line in part.splitlines() if line.strip())
        for part in re.split(r"\n\s*\n", body)
        if part.strip()
    ]
    pieces: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        current = ""
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > max_chars:
                pieces.append(sentence[:max_chars])
                sentence = sentence[max_chars:]
            if current and len(current) + 1 + len(sentence) > max_chars:
                pieces.append(current)
                current = ""
            current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    passages: list[ParsedPassage] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > max_chars:
            passages.append(ParsedPassage(heading, current))
            current = ""
        current = f"{current}\n{piece}".strip()
    if current:
        passages.append(ParsedPassage(heading, current))
    return passages
