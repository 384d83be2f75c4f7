"""A cold start, in a fresh process: import one handler as Lambda does and serve its first event.

``python -m tools.bench.child_cold SPEC`` (started by ``tools.bench.cold`` with the repository root as
its working directory, so ``tools`` is importable). SPEC is JSON: the function's name, code folder
(``code_dir``, made the working directory and put first on ``sys.path`` with the ``layers`` after it),
``handler``, ``event`` file, ``memory`` and ``timeout``. The answer is one line on stdout,
``BENCH {json}``: import and first-event seconds by this process's clock, the process's start as an
epoch (for the parent's startup figure) and the handler's result. With ``"trace": true`` in SPEC it also
gives ``trace``: every AWS request (botocore's ``_make_api_call``, so serialising, signing, sending and
parsing), every vendor request (``requests.Session.send``) and every botocore client made, in order, each
with when it started (ms after the process started) and how long it took. Traced runs are not timed.

Nothing is imported before the clock starts but ``time``; the rest is imported inside ``main``.
"""

import time

T0 = time.perf_counter()


class Context:
    """The Lambda context the runtime passes: name, memory, request id and the deadline."""

    def __init__(self, name: str, memory: int, timeout: float, request_id: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name
        self.memory_limit_in_mb = memory
        self.aws_request_id = request_id
        self.log_group_name = "/aws/lambda/" + name
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _trace(steps: list[dict[str, object]]) -> None:
    """Wrap botocore's API calls and client creation and requests' send, recording each into ``steps``."""
    import functools
    import re
    from typing import Any

    import botocore.client
    import botocore.session
    import requests

    def timed(what: object, fn: object, *args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        status: object = None
        try:
            result = fn(*args, **kwargs)  # type: ignore[operator]
            status = getattr(result, "status_code", None)
            return result
        except Exception as e:
            status = type(e).__name__
            raise
        finally:
            ended = time.perf_counter()
            steps.append(
                {
                    "what": what,
                    "at_ms": round((started - T0) * 1000, 2),
                    "ms": round((ended - started) * 1000, 2),
                }
                | ({"status": status} if status is not None else {})
            )

    client_class: Any = botocore.client.BaseClient
    session_class: Any = botocore.session.Session
    requests_class: Any = requests.Session
    api_call = client_class._make_api_call
    create_client = session_class.create_client
    send = requests_class.send
    number = re.compile(r"\d+")

    @functools.wraps(api_call)
    def traced_api_call(self: object, operation: str, params: object) -> object:
        service = self.meta.service_model.service_name  # type: ignore[attr-defined]
        return timed(f"aws {service}.{operation}", api_call, self, operation, params)

    @functools.wraps(create_client)
    def traced_create_client(self: object, service_name: str, *args: object, **kwargs: object) -> object:
        return timed(f"client {service_name}", create_client, self, service_name, *args, **kwargs)

    @functools.wraps(send)
    def traced_send(self: object, request: object, **kwargs: object) -> object:
        url = str(getattr(request, "path_url", "")).split("?")[0]
        vendor = "zendesk" if url.startswith("/api/") else "jira" if url.startswith("/rest/") else "http"
        what = f"{vendor} {getattr(request, 'method', '?')} {number.sub('{id}', url)}"
        return timed(what, send, self, request, **kwargs)

    client_class._make_api_call = traced_api_call
    session_class.create_client = traced_create_client
    requests_class.send = traced_send


def main() -> None:
    import importlib
    import json
    import os
    import sys
    import uuid

    spec = json.loads(sys.argv[1])
    steps: list[dict[str, object]] = []
    if spec.get("trace"):
        _trace(steps)
    os.chdir(spec["code_dir"])  # Lambda runs a handler in its code folder
    sys.path[:0] = [spec["code_dir"], *spec["layers"]]
    module_name, func_name = spec["handler"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), func_name)
    t1 = time.perf_counter()
    with open(spec["event"]) as f:
        event = json.load(f)
    context = Context(spec["function"], spec["memory"], spec["timeout"], str(uuid.uuid4()))
    result = handler(event, context)
    t2 = time.perf_counter()
    sys.stdout.flush()
    timings = {"import_s": t1 - T0, "first_event_s": t2 - t1, "epoch_done": time.time()}
    timings["epoch_start"] = timings["epoch_done"] - (time.perf_counter() - T0)
    extra = {"trace": steps, "handler_at_ms": round((t1 - T0) * 1000, 2)} if spec.get("trace") else {}
    print("BENCH " + json.dumps({**timings, "result": result, **extra}), flush=True)


if __name__ == "__main__":
    main()
