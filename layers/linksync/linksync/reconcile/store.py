"""Where a reconciliation job keeps its state in the links table: the job record (its checkpoint), the
watermark incremental jobs start from, and the job's scratch items.

- Job record: ``pk=RECONCILE#<mode>#<apply|dry>``, ``sk=JOB``: the phase, the cursor within it, the counts so
  far, and a lease so two invocations never run the same job at once. Kept after the job: the last report.
- Watermark: ``pk=RECONCILE``, ``sk=WATERMARK``: when the last finished *applied* job began.
- Scratch, under ``pk=RJOB#<job_id>``: what the job read, one item per fact, so that a job over 100,000
  tickets can span many invocations: ``I#<issue>`` and ``T#<ticket>`` (what each side is), ``J#``, ``Z#``,
  ``L#`` and ``R#`` + ``<issue>#<ticket>`` (a Jira field, a Zendesk field, Zendesk, or the ledger names the
  pair), and ``D#<issue>#<ticket>`` (the differing pairs, kept for 30 days for the operator). Ids are
  zero-padded, so each kind of pair item comes back from a query sorted the same way and the job can merge
  them like sorted files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..dynamo import TableStore, attr, key, plain, values
from ..errors import HandOffError

SCRATCH_TTL_SECONDS = 3 * 24 * 3600
REPORT_TTL_SECONDS = 30 * 24 * 3600
WIDTH = 20  # digits: every Jira and Zendesk id fits


def pad(entity_id: str) -> str:
    return entity_id.zfill(WIDTH)


def pair_sk(kind: str, issue_id: str, ticket_id: str) -> str:
    return f"{kind}#{pad(issue_id)}#{pad(ticket_id)}"


def unpair(sk: str) -> tuple[str, str]:
    """``J#0000…12#0000…34`` (or ``L#…#…#<link id>``) -> ("12", "34")."""
    parts = sk.split("#")
    return str(int(parts[1])), str(int(parts[2]))


def pair_key(sk: str) -> str:
    """The padded ``<issue>#<ticket>`` part of a pair item's sort key: what the merge orders by."""
    return "#".join(sk.split("#")[1:3])


@dataclass
class JobState:
    job_id: str
    mode: str
    apply: bool
    started_at: float
    since: float | None = None
    phase: str = "issues"
    cursor: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    slices: int = 0
    finished_at: float | None = None
    # Pacing that must survive between invocations: the next time the ticket export may be asked.
    export_not_before: float = 0.0
    error: str | None = None  # why the job failed (a permanent vendor error)
    budget_at: float = 0.0  # a turn the Zendesk call budget gave this job for its next call

    @property
    def done(self) -> bool:
        return self.phase in ("done", "failed")

    @property
    def pk(self) -> str:
        return job_pk(self.mode, self.apply)

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "job_id": self.job_id,
            "mode": self.mode,
            "apply": self.apply,
            "started_at": int(self.started_at * 1000),
            "phase": self.phase,
            "counts": dict(self.counts),
            "slices": self.slices,
            "export_not_before": int(self.export_not_before * 1000),
            "budget_at": int(self.budget_at * 1000),
        }
        if self.since is not None:
            item["since"] = int(self.since * 1000)
        if self.cursor is not None:
            item["cursor"] = self.cursor
        if self.finished_at is not None:
            item["finished_at"] = int(self.finished_at * 1000)
        if self.error is not None:
            item["error"] = self.error[:1000]
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobState:
        data = plain(item)
        ms = {k: int(data[k]) / 1000 for k in ("started_at", "since", "finished_at") if k in data}
        return cls(
            job_id=str(data["job_id"]),
            mode=str(data["mode"]),
            apply=bool(data["apply"]),
            started_at=ms["started_at"],
            since=ms.get("since"),
            phase=str(data.get("phase", "issues")),
            cursor=data.get("cursor"),
            counts={k: int(v) for k, v in (data.get("counts") or {}).items()},
            slices=int(data.get("slices", 0)),
            finished_at=ms.get("finished_at"),
            export_not_before=int(data.get("export_not_before", 0)) / 1000,
            error=data.get("error"),
            budget_at=int(data.get("budget_at", 0)) / 1000,
        )


def job_pk(mode: str, apply: bool) -> str:
    return f"RECONCILE#{mode}#{'apply' if apply else 'dry'}"


class JobStore(TableStore):
    # ------------------------------------------------------------------ the job record

    def load(self, mode: str, apply: bool) -> JobState | None:
        answer = self.table.call("get_item", Key=key(job_pk(mode, apply), "JOB"), ConsistentRead=True)
        return JobState.from_item(answer["Item"]) if "Item" in answer else None

    def lease(self, job: JobState, token: str, seconds: float) -> bool:
        """Hold the job for one invocation; False while another invocation holds it."""
        now = int(self.clock() * 1000)
        item = {**job.as_item(), "lease_token": token, "lease_until": now + int(seconds * 1000)}
        answer = self.table.conditional(
            "put_item",
            Item={**key(job.pk, "JOB"), **{k: attr(v) for k, v in item.items()}},
            ConditionExpression="attribute_not_exists(pk) OR attribute_not_exists(lease_until) "
            "OR lease_until < :now OR lease_token = :t",
            ExpressionAttributeValues=values(now=now, t=token),
        )
        return answer is not None

    def save(self, job: JobState, token: str, *, release: bool = False) -> bool:
        """Write the checkpoint, while the lease is ours; ``release`` gives the job back."""
        item = {**job.as_item(), **({} if release else {"lease_token": token})}
        if not release:
            item["lease_until"] = int(self.clock() * 1000) + 15 * 60 * 1000
        answer = self.table.conditional(
            "put_item",
            Item={**key(job.pk, "JOB"), **{k: attr(v) for k, v in item.items()}},
            ConditionExpression="lease_token = :t",
            ExpressionAttributeValues=values(t=token),
        )
        return answer is not None

    def watermark(self) -> float | None:
        answer = self.table.call("get_item", Key=key("RECONCILE", "WATERMARK"), ConsistentRead=True)
        started = plain(answer.get("Item", {})).get("started_at")
        return int(started) / 1000 if started is not None else None

    def raise_watermark(self, started_at: float) -> None:
        self.table.conditional(
            "update_item",
            Key=key("RECONCILE", "WATERMARK"),
            UpdateExpression="SET started_at = :s",
            ConditionExpression="attribute_not_exists(started_at) OR started_at < :s",
            ExpressionAttributeValues=values(s=int(started_at * 1000)),
        )

    # ------------------------------------------------------------------ scratch

    def put(
        self, job_id: str, items: dict[str, dict[str, Any]], *, keep_seconds: int = SCRATCH_TTL_SECONDS
    ) -> None:
        """Write scratch items (sort key -> attributes), 25 to a request."""
        expires = int(self.clock()) + keep_seconds
        requests = [
            {"PutRequest": {"Item": {**key(f"RJOB#{job_id}", sk), **_item({**attrs, "expiration": expires})}}}
            for sk, attrs in items.items()
        ]
        for start in range(0, len(requests), 25):
            self._batch_write(requests[start : start + 25])

    def _batch_write(self, requests: list[dict[str, Any]], rounds: int = 8) -> None:
        pending: Any = {self.table.name: requests}
        for attempt in range(rounds):
            try:
                answer = self.table.client.batch_write_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as e:
                raise HandOffError(f"DynamoDB batch_write_item failed: {type(e).__name__}") from e
            pending = dict(answer.get("UnprocessedItems") or {})
            if not pending:
                return
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise HandOffError("DynamoDB batch_write_item left items unprocessed")

    def get(self, job_id: str, sks: list[str]) -> dict[str, dict[str, Any]]:
        """Scratch items by sort key (those that exist), 100 to a request."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(sks))
        for start in range(0, len(unique), 100):
            keys = [key(f"RJOB#{job_id}", sk) for sk in unique[start : start + 100]]
            for item in self.table.get_many(keys):
                found[item["sk"]["S"]] = plain(item)
        return found

    def stream(self, job_id: str, kind: str, after: str | None, limit: int) -> list[str]:
        """Up to ``limit`` sort keys of one kind of pair item, in order, after the pair ``after`` (and after
        every item of it: a pair's ``L#`` items go on with ``#<link id>``)."""
        page = self.table.call(
            "query",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues=values(pk=f"RJOB#{job_id}", lo=_low(kind, after), hi=f"{kind}#~"),
            ProjectionExpression="sk",
            Limit=limit,
            ConsistentRead=True,
        )
        return [item["sk"]["S"] for item in page.get("Items", [])]

    def items(self, job_id: str, kind: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Like :meth:`stream`, whole items."""
        page = self.table.call(
            "query",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues=values(pk=f"RJOB#{job_id}", lo=_low(kind, after), hi=f"{kind}#~"),
            Limit=limit,
        )
        return [plain(item) for item in page.get("Items", [])]


def _low(kind: str, after: str | None) -> str:
    """The lowest sort key past ``after`` and everything under it: sort keys hold only digits and ``#``,
    and ``~`` sorts after both (``L#<pair>#<link id>`` < ``L#<pair>#~`` < ``L#<next pair>``)."""
    return f"{kind}#{after}#~" if after else f"{kind}#"


def _item(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attr(v) for k, v in attrs.items() if v is not None}
