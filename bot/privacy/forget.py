"""Forgetting a member everywhere: every declared or inferred table policy applied in one transaction."""

from __future__ import annotations

from collections import Counter

from bot.memory.summary import ConversationSummaries
from bot.privacy.member import Member
from bot.privacy.registry import policies_for
from bot.store import Store


def forget_member(store: Store, member: Member, include_core: bool = True) -> dict[str, int]:
    """Delete or anonymise every row about `member`; returns rows changed per table.

    `include_core=False` leaves the user row, their messages and those messages' moderation decisions to
    `Store.delete_user_data` (what `/forgetme` runs after its hooks).
    """
    member = member.resolved(store)
    if member.user_id is None and not include_core:
        include_core = True  # nothing for the core store to do; the member may still be named elsewhere
    params = member.parameters()
    changed: Counter[str] = Counter()
    summary_lines = 0
    if member.user_id is not None:
        summary_lines = ConversationSummaries(store).forget_user(member.user_id)
    with store.transaction() as db:
        db.conn.execute("begin immediate")  # one transaction: sqlite-utils would commit statement by statement
        policies = [policy for policy in policies_for(db) if include_core or not policy.core]
        for policy in policies:
            if policy.forget != "anonymise" or not policy.anonymise:
                continue
            assignments = ", ".join(f'"{column}" = :new_{index}' for index, column in enumerate(policy.anonymise))
            values = {f"new_{index}": value for index, value in enumerate(policy.anonymise.values())}
            cursor = db.execute(f"update [{policy.table}] set {assignments} where {policy.where}", {**params, **values})
            changed[policy.table] += cursor.rowcount
        for policy in sorted((p for p in policies if p.forget == "delete"), key=lambda policy: policy.order):
            changed[policy.table] += db.execute(f"delete from [{policy.table}] where {policy.where}", params).rowcount
    if summary_lines:
        changed["memory_summaries"] += summary_lines
    return {table: count for table, count in sorted(changed.items()) if count}
