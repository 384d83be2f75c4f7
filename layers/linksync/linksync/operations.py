"""The work that can wait on the retry queue, as types, and what a piece of work did.

Every operation is a frozen dataclass; a :class:`Task` is an operation plus the attempts it has used. On the
wire a task is one JSON object: ``{"v": 1, "op": "<kind>", ...the operation's fields..., "attempt": n}``
(``v`` is the schema version; messages without it are version 1). :func:`Task.from_message` refuses
anything else with :class:`MalformedTaskError`, so a message that can never succeed is parked, not retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from .errors import LinkSyncError

SCHEMA_VERSION = 1
Entity = Literal["issue", "ticket"]


class MalformedTaskError(LinkSyncError):
    """A retry message that no code can carry out (not a JSON object, unknown kind, missing or bad fields)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.reason = "malformed retry message" + (f": {detail}" if detail else "")


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        raise MalformedTaskError(f"missing {name}")
    return str(value)


@dataclass(frozen=True)
class ReconcilePair:
    """Bring one (issue, ticket) pair to what the ledger says is wanted. ``verify``: Zendesk was seen to
    disagree with the ledger, so look at Zendesk before trusting the ledger's link id."""

    issue_id: str
    ticket_id: str
    verify: bool = False
    kind: ClassVar[str] = "reconcile"

    def fields(self) -> dict[str, Any]:
        return {
            "issue_id": self.issue_id,
            "ticket_id": self.ticket_id,
            **({"verify": True} if self.verify else {}),
        }

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ReconcilePair:
        missing = [n for n in ("issue_id", "ticket_id") if not isinstance(data.get(n), (str, int))]
        if missing:
            raise MalformedTaskError(f"missing {', '.join(missing)}")
        return cls(_text(data, "issue_id"), _text(data, "ticket_id"), data.get("verify") is True)


@dataclass(frozen=True)
class SyncTicket:
    """Apply a ticket's Zendesk field: ``value`` (as the field holds it in JSON) as of ``version`` (epoch
    ms) when the task knows it (an event carried it, or an earlier try read it), else the value read from
    Zendesk.

    ``lead_ms``: the version is a read's time plus this lead (see :data:`linksync.desired.READ_LEAD_MS`),
    so a change stamped within the lead may be newer than what was read: it is not overwritten."""

    ticket_id: str
    value: Any = None
    version: int | None = None
    lead_ms: int = 0
    kind: ClassVar[str] = "sync_ticket"

    def fields(self) -> dict[str, Any]:
        known = {"value": self.value, "version": self.version} if self.version is not None else {}
        lead = {"lead_ms": self.lead_ms} if self.lead_ms else {}
        return {"ticket_id": self.ticket_id, **known, **lead}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> SyncTicket:
        version, value, lead = data.get("version"), data.get("value"), data.get("lead_ms", 0)
        if version is None:
            return cls(_text(data, "ticket_id"))
        if isinstance(version, bool) or not isinstance(version, int):
            raise MalformedTaskError("bad version")
        if isinstance(lead, bool) or not isinstance(lead, int) or lead < 0:
            raise MalformedTaskError("bad lead_ms")
        return cls(_text(data, "ticket_id"), value, version, lead)


@dataclass(frozen=True)
class RestoreTicket:
    """A soft-deleted ticket is back: lift its tombstone and bring back the links its fields still want."""

    ticket_id: str
    kind: ClassVar[str] = "restore_ticket"

    def fields(self) -> dict[str, Any]:
        return {"ticket_id": self.ticket_id}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> RestoreTicket:
        return cls(_text(data, "ticket_id"))


@dataclass(frozen=True)
class Purge:
    """An issue or ticket is gone: delete every link it has. ``keep_owners`` for a ticket that may return."""

    entity: Entity
    entity_id: str
    keep_owners: bool = False
    kind: ClassVar[str] = "purge"

    def fields(self) -> dict[str, Any]:
        return {"kind": self.entity, "id": self.entity_id, "keep_owners": self.keep_owners}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Purge:
        entity = data.get("kind")
        if entity not in ("issue", "ticket"):
            raise MalformedTaskError("bad kind")
        return cls(entity, _text(data, "id"), bool(data.get("keep_owners", False)))


@dataclass(frozen=True)
class DeleteLink:
    """Delete one Zendesk link the ledger never made (an agent's), found while purging."""

    link_id: int
    issue_id: str = ""
    ticket_id: str = ""
    kind: ClassVar[str] = "delete_link"

    def fields(self) -> dict[str, Any]:
        return {"link_id": self.link_id, "issue_id": self.issue_id, "ticket_id": self.ticket_id}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> DeleteLink:
        text = _text(data, "link_id")
        if not text.isdigit():
            raise MalformedTaskError("bad link_id")
        return cls(int(text), str(data.get("issue_id", "")), str(data.get("ticket_id", "")))


Operation = ReconcilePair | SyncTicket | RestoreTicket | Purge | DeleteLink
_KINDS: dict[str, type[ReconcilePair | SyncTicket | RestoreTicket | Purge | DeleteLink]] = {
    cls.kind: cls for cls in (ReconcilePair, SyncTicket, RestoreTicket, Purge, DeleteLink)
}


@dataclass(frozen=True)
class Task[O: Operation]:
    """An operation and the attempts it has used so far (failed tries; deferrals do not count).

    ``reserved_at`` (epoch seconds): the Zendesk call budget already gave this task a turn at that time, so
    when it runs then it calls without asking again (see :mod:`linksync.budget`).
    """

    op: O
    attempts: int = 0
    reserved_at: float | None = None

    def failed_once(self) -> Task[O]:
        return replace(self, attempts=self.attempts + 1, reserved_at=None)

    def reserved(self, at: float | None) -> Task[O]:
        return replace(self, reserved_at=at)

    def to_message(self, **extra: Any) -> dict[str, Any]:
        message = {"v": SCHEMA_VERSION, "op": self.op.kind, **self.op.fields(), "attempt": self.attempts}
        if self.reserved_at is not None:
            message["reserved_at"] = round(self.reserved_at, 3)
        return message | extra

    def to_json(self, **extra: Any) -> str:
        return json.dumps(self.to_message(**extra), default=str)

    @staticmethod
    def from_message(data: Any) -> Task[Operation]:
        if not isinstance(data, dict):
            raise MalformedTaskError()
        if data.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise MalformedTaskError(f"unknown schema version {str(data.get('v'))[:20]}")
        kind = _KINDS.get(str(data.get("op")))
        if kind is None:
            raise MalformedTaskError("unknown op")
        attempt = data.get("attempt", 0)
        attempts = attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else 0
        reserved = data.get("reserved_at")
        at = (
            float(reserved) if isinstance(reserved, (int, float)) and not isinstance(reserved, bool) else None
        )
        return Task(kind.parse(data), max(0, attempts), at)

    @staticmethod
    def from_json(body: str) -> Task[Operation]:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedTaskError() from None
        return Task.from_message(data)


@dataclass
class Outcome:
    """What one event or task did, for the log line and the HTTP answer."""

    created: int = 0
    deleted: int = 0
    adopted: int = 0
    unchanged: int = 0
    queued: int = 0
    dead_lettered: int = 0
    ignored: str | None = None
    notes: list[str] = field(default_factory=list)

    COUNTS: ClassVar[tuple[str, ...]] = (
        "created",
        "deleted",
        "adopted",
        "unchanged",
        "queued",
        "dead_lettered",
    )

    def merge(self, other: Outcome) -> Outcome:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ignored = self.ignored or other.ignored
        self.notes += other.notes
        return self

    @property
    def acted(self) -> bool:
        return any(getattr(self, name) for name in self.COUNTS)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {k: getattr(self, k) for k in self.COUNTS}
        if self.ignored:
            data["ignored"] = self.ignored
        if self.notes:
            data["notes"] = self.notes[:20]
        return data
