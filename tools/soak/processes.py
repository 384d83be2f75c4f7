"""Function processes as Lambda keeps them: warm ones are reused, a killed one is gone, a new one is cold.

Each process is the function's handler module executed anew (its own logger, cached services, Jira key
cache and idempotency store), wired to AWS clients and a vendor session of its own that carry the soak's
faults and the process's :class:`~tools.soak.faults.Fate`. An invocation takes an idle process or starts
a cold one, and hands it back when it answers; a process killed mid-invocation is dropped, and the
caller sees what Lambda's caller would: a function error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from linksync.apiclient import new_session
from linksync.config import Secrets, Settings
from linksync.services import build_services
from local.stack import fresh_handler_module
from tools.soak.faults import AwsFaults, Fate, ProcessKilled, Reaper


class FunctionCrashed(Exception):  # noqa: N818 - named for what the caller sees
    """The process died during the invocation (Lambda reports a timeout or a runtime exit)."""


class FunctionPool:
    def __init__(
        self,
        logical_id: str,
        *,
        settings: Settings,
        secrets: Secrets,
        moto_url: str,
        faults: AwsFaults,
        reaper: Reaper,
    ) -> None:
        self.logical_id = logical_id
        self._settings = settings
        self._secrets = secrets
        self._moto_url = moto_url
        self._faults = faults
        self._reaper = reaper
        self._idle: list[ModuleType] = []
        self._lock = threading.Lock()
        self.cold_starts = 0
        self.killed = 0

    def _cold_start(self) -> ModuleType:
        fate: Fate = self._reaper.fate()
        module = fresh_handler_module(self.logical_id)
        module.FATE = fate  # type: ignore[attr-defined]  # the process's own fate, beside its globals
        # Thousands of invocations: no EMF lines (Powertools prints every 100 values even when disabled).
        module.metrics.add_metric = lambda *_, **__: None
        watch = self._reaper.watch_client
        module.SERVICES.override(
            build_services(
                self._settings,
                self._secrets,
                dynamodb=watch(self._faults.client("dynamodb", self._moto_url), "dynamodb", fate),
                sqs=watch(self._faults.client("sqs", self._moto_url), "sqs", fate),
                session=self._reaper.watch_session(new_session(), fate),
                metrics=None,  # thousands of invocations: no EMF lines in the report
                logger=module.logger,
            )
        )
        with self._lock:
            self.cold_starts += 1
        return module

    def invoke(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            module = self._idle.pop() if self._idle else None
        if module is None:
            module = self._cold_start()
        handler: Callable[[dict[str, Any], Any], Any] = module.lambda_handler
        module.FATE.arm()
        try:
            return handler(event, context)
        except ProcessKilled as e:
            with self._lock:
                self.killed += 1
            module = None  # gone with its process
            raise FunctionCrashed(str(e)) from None
        finally:
            # An answer, or an error the runtime reports: the process stays warm, unless it died on the way.
            if module is not None and not module.FATE.dead:
                with self._lock:
                    self._idle.append(module)
