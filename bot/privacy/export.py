"""Everything stored about one member, as one JSON document (the `/export` file and `privacy export`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.privacy.feature_data import feature_exports
from bot.privacy.member import Member
from bot.privacy.registry import policies_for
from bot.store import Store, utc_now

if TYPE_CHECKING:
    from bot.plugin import Feature

EXPORT_FORMAT = "socialbot-export/1"


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def export_member(store: Store, member: Member, features: Sequence[Feature] = ()) -> dict[str, Any]:
    """Every row any table holds about `member`, table by table, with what forgetting would do to each table,
    and what each of `features` exports about them through its `export_user` hook (under "features")."""
    member = member.resolved(store)
    params = member.parameters()
    tables: dict[str, list[dict[str, object]]] = {}
    on_forget: dict[str, str] = {}
    with store.transaction() as db:  # one consistent snapshot
        for policy in policies_for(db):
            rows = [
                dict(row)
                for row in db.query(f"select rowid as _rowid, * from [{policy.table}] where {policy.where}", params)
            ]
            if policy.table == "memory_summaries":
                for row in rows:
                    row["lines"] = [item for item in json.loads(str(row["lines"])) if item.get("u") == member.user_id]
            seen = {row["_rowid"] for row in tables.get(policy.table, [])}
            tables.setdefault(policy.table, []).extend(row for row in rows if row["_rowid"] not in seen)
            note = policy.forget + (f" ({policy.reason})" if policy.reason else "")
            on_forget.setdefault(policy.table, note)
    for rows in tables.values():
        for row in rows:
            row.pop("_rowid", None)
            for key, value in row.items():
                row[key] = _plain(value)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": utc_now(),
        "member": {"platform": member.platform, "user": member.platform_user_id},
        "tables": {name: rows for name, rows in sorted(tables.items()) if rows},
        "on_forget": dict(sorted(on_forget.items())),
        "features": feature_exports(features, member),
    }


def export_json(store: Store, member: Member, features: Sequence[Feature] = ()) -> bytes:
    document = export_member(store, member, features)
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")
