"""`Member`: the person an export or forget is about, named as `PLATFORM:USER` by operators."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store import Store


class MemberError(ValueError):
    """A member reference that cannot be read (not `platform:user`)."""


@dataclass(frozen=True)
class Member:
    """A member by platform and platform user id, with their `users.id` when the store knows them."""

    platform: str
    platform_user_id: str
    user_id: int | None = None

    @property
    def actor(self) -> str:
        """How audit entries, drafts and rules name this person (`platform:user`)."""
        return f"{self.platform}:{self.platform_user_id}"

    def parameters(self) -> dict[str, object]:
        return {
            "user_id": self.user_id if self.user_id is not None else -1,
            "platform": self.platform,
            "platform_user_id": self.platform_user_id,
            "actor": self.actor,
        }

    @classmethod
    def parse(cls, reference: str) -> Member:
        platform, sep, user = reference.strip().partition(":")
        if not sep or not platform or not user:
            raise MemberError(f"'{reference}' is not PLATFORM:USER (for example telegram:123456)")
        return cls(platform.lower(), user)

    def resolved(self, store: Store) -> Member:
        """The same member with `user_id` looked up (None when they never wrote)."""
        row = store.db.execute(
            "select id from users where platform = ? and platform_user_id = ?", [self.platform, self.platform_user_id]
        ).fetchone()
        return Member(self.platform, self.platform_user_id, int(row[0]) if row else None)
