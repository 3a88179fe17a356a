"""Knowledge base: upload, write, edit and delete documents; try a question and see why the bot would
answer or decline (retrieved passages, confidence, decision); recent questions it could not answer."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.dashboard import DashboardError
from bot.dashboard.uploads import check_content, is_upload, safe_file_name, write_upload
from bot.dashboard.web import (
    SERVICES_KEY,
    SETTINGS_KEY,
    UPLOADS_KEY,
    form_text,
    notify_and_redirect,
    path_id,
    render,
)
from bot.kb import KbError

if TYPE_CHECKING:
    from bot.kb.feature import KbFeature
    from bot.kb.knowledge_base import KbDocument

routes = web.RouteTableDef()
GAPS_SQL = (
    "select r.id, r.created_at, r.conversation_id, (select u.text from messages u where "
    "u.conversation_id = r.conversation_id and u.role = 'user' and u.platform_message_id = r.reply_to_message_id "
    "and r.reply_to_message_id != '' order by u.id desc limit 1) as question "
    "from messages r where r.source = 'kb:declined' order by r.id desc limit 20"
)


def _feature(request: web.Request) -> KbFeature:
    feature = request.app[SERVICES_KEY].kb
    if feature is None or feature.kb is None or feature.answerer is None:
        raise web.HTTPNotFound(text="The knowledge base feature is not installed in this bot.")
    return feature


def _page(request: web.Request, trial: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    feature = _feature(request)
    assert feature.kb is not None
    services = request.app[SERVICES_KEY]
    uploads = request.app[UPLOADS_KEY]
    documents = [(document, is_upload(uploads, document.source)) for document in feature.kb.documents()]
    return render(
        request,
        "kb.html",
        status=status,
        documents=documents,
        trial=trial,
        gaps=list(services.store.db.query(GAPS_SQL)),
        max_upload=request.app[SETTINGS_KEY].max_upload_bytes,
    )


@routes.get("/kb")
async def kb_page(request: web.Request) -> web.StreamResponse:
    return _page(request)


async def _ingest(request: web.Request, path: Path, action: str) -> str:
    feature = _feature(request)
    assert feature.kb is not None
    try:
        result = await asyncio.to_thread(feature.kb.add_file, path)
    except KbError as exc:
        raise notify_and_redirect(request, "/kb", str(exc).replace(str(path.parent) + "/", ""), "error") from None
    request.app[SERVICES_KEY].record(
        action, path.name, None, {"title": result.title, "status": result.status, "passages": result.passages_added}
    )
    return f"{result.title}: {result.status} ({result.passages_added} passages embedded, {result.passages_kept} kept)."


@routes.post("/kb/upload")
async def upload(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    field = form.get("document")
    if not isinstance(field, web.FileField):
        raise notify_and_redirect(request, "/kb", "Choose a file to upload.", "error")
    data = field.file.read(request.app[SETTINGS_KEY].max_upload_bytes + 1)
    try:
        path = write_upload(
            request.app[UPLOADS_KEY], field.filename or "", data, request.app[SETTINGS_KEY].max_upload_bytes
        )
    except DashboardError as exc:
        raise notify_and_redirect(request, "/kb", f"Not uploaded: {exc}.", "error") from None
    raise notify_and_redirect(request, "/kb", await _ingest(request, path, "kb.upload"))


@routes.post("/kb/new")
async def new_document(request: web.Request) -> web.StreamResponse:
    title = await form_text(request, "title", limit=120)
    text = await form_text(request, "text", limit=request.app[SETTINGS_KEY].max_upload_bytes)
    if not title or not text:
        raise notify_and_redirect(request, "/kb", "A new document needs a title and some text.", "error")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "document"
    body = text if text.lstrip().startswith("# ") else f"# {title}\n\n{text}"
    try:
        path = write_upload(
            request.app[UPLOADS_KEY], f"{slug}.md", body.encode("utf-8"), request.app[SETTINGS_KEY].max_upload_bytes
        )
    except DashboardError as exc:
        raise notify_and_redirect(request, "/kb", f"Not saved: {exc}.", "error") from None
    raise notify_and_redirect(request, "/kb", await _ingest(request, path, "kb.create"))


def _uploaded_document(request: web.Request) -> tuple[KbDocument, Path]:
    feature = _feature(request)
    assert feature.kb is not None
    document = feature.kb.find_document(str(path_id(request)))
    if document is None:
        raise web.HTTPNotFound(text="No such document.")
    if not is_upload(request.app[UPLOADS_KEY], document.source):
        raise notify_and_redirect(
            request,
            "/kb",
            f"'{document.title}' was added from the command line: edit its file and run `socialbot kb add`.",
            "error",
        )
    return document, Path(document.source)


@routes.get("/kb/{id}/edit")
async def edit_form(request: web.Request) -> web.StreamResponse:
    document, path = _uploaded_document(request)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return render(request, "kb_edit.html", document=document, text=text)


@routes.post("/kb/{id}/edit")
async def edit(request: web.Request) -> web.StreamResponse:
    document, path = _uploaded_document(request)
    limit = request.app[SETTINGS_KEY].max_upload_bytes
    text = await form_text(request, "text", limit=limit + 1)
    try:
        check_content(text.encode("utf-8"), limit)
        safe_file_name(path.name)
    except DashboardError as exc:
        raise notify_and_redirect(request, f"/kb/{document.id}/edit", f"Not saved: {exc}.", "error") from None
    write_upload(path.parent, path.name, text.encode("utf-8"), limit)
    raise notify_and_redirect(request, "/kb", await _ingest(request, path, "kb.edit"))


@routes.post("/kb/{id}/delete")
async def delete(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    assert feature.kb is not None
    try:
        document = await asyncio.to_thread(feature.kb.remove, str(path_id(request)))
    except KbError as exc:
        raise notify_and_redirect(request, "/kb", str(exc), "error") from None
    if is_upload(request.app[UPLOADS_KEY], document.source):
        Path(document.source).unlink(missing_ok=True)
    request.app[SERVICES_KEY].record(
        "kb.delete", str(document.id), {"title": document.title, "source": document.source}
    )
    raise notify_and_redirect(request, "/kb", f"Deleted '{document.title}'.")


@routes.post("/kb/try")
async def try_question(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    assert feature.answerer is not None
    services = request.app[SERVICES_KEY]
    question = await form_text(request, "question", limit=1000)
    if not question:
        raise notify_and_redirect(request, "/kb", "Type a question to try.", "error")
    answer = await feature.answerer.answer(question, use_model=services.engine_ready)
    trial = {
        "question": question,
        "answer": answer,
        "threshold": feature.answerer.settings.answer_threshold,
        "used_model": services.engine_ready,
    }
    return _page(request, trial)
