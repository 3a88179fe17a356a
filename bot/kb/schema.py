"""The knowledge base's tables: documents, passages with their vectors, a full-text index, and tickets."""

from __future__ import annotations

import sqlite_utils

from bot.migration_set import MigrationSet

kb_migrations = MigrationSet("kb")


@kb_migrations
def m001_documents_passages_tickets(db: sqlite_utils.Database) -> None:
    db.table("kb_documents").create(
        {
            "id": int,
            "source": str,
            "title": str,
            "kind": str,
            "content_hash": str,
            "passage_count": int,
            "added_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"source", "title", "kind", "content_hash"},
    )
    db.table("kb_documents").create_index(["source"], unique=True)
    db.table("kb_passages").create(
        {
            "id": int,
            "document_id": int,
            "position": int,
            "heading": str,
            "text": str,
            "question": str,
            "answer": str,
            "content_hash": str,
            "link": str,
            "vector": bytes,
        },
        pk="id",
        foreign_keys=[("document_id", "kb_documents", "id")],
        not_null={"document_id", "position", "text", "content_hash", "vector"},
        defaults={"heading": "", "question": "", "answer": "", "link": ""},
    )
    db.table("kb_passages").create_index(["document_id", "content_hash"])
    # Standalone FTS5 table keyed by the passage id (rowid); Porter stemming so "returns" finds "return".
    db.execute("create virtual table kb_passages_fts using fts5(heading, text, tokenize = 'porter unicode61')")
    db.table("tickets").create(
        {
            "id": int,
            "conversation_id": int,
            "user_id": int,
            "user_name": str,
            "status": str,
            "summary": str,
            "opened_message_id": str,
            "opened_at": str,
            "closed_at": str,
            "closed_by": str,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
        not_null={"conversation_id", "status", "opened_at"},
        defaults={"summary": "", "user_name": "", "opened_message_id": ""},
    )
    db.table("tickets").create_index(["conversation_id", "status"])
    # A person's right to be forgotten covers their tickets too: deleting the user row (as /forgetme
    # does) deletes the tickets they opened, whoever triggers it.
    db.execute(
        "create trigger tickets_forget_user after delete on users begin delete from tickets where user_id = old.id; end"
    )


@kb_migrations
def m002_passage_questions(db: sqlite_utils.Database) -> None:
    """Questions the owner wrote for a passage, each with its own vector (a passage is found by the closest)."""
    db.table("kb_passage_questions").create(
        {"id": int, "passage_id": int, "question": str, "vector": bytes},
        pk="id",
        foreign_keys=[("passage_id", "kb_passages", "id")],
        not_null={"passage_id", "question", "vector"},
    )
    db.table("kb_passage_questions").create_index(["passage_id"])


@kb_migrations
def m003_cross_language_vectors(db: sqlite_utils.Database) -> None:
    """Multilingual vectors of the documents' sentences and questions (`bot.kb.cross_language`), by text hash."""
    db.table("kb_cross_language_vectors").create({"text_hash": str, "vector": bytes}, pk="text_hash")
