"""A cold start, in a fresh process: import one handler as Lambda does and serve its first event.

``python -m tools.bench.child_cold SPEC`` (started by ``tools.bench.cold`` with the repository root as
its working directory, so ``tools`` is importable). SPEC is JSON: the function's name, code folder
(``code_dir``, made the working directory and put first on ``sys.path`` with the ``layers`` after it),
``handler``, ``event`` file, ``memory`` and ``timeout``. The answer is one line on stdout,
``BENCH {json}``: import and first-event seconds by this process's clock, the process's start as an
epoch (for the parent's startup figure) and the handler's result.

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


def main() -> None:
    import importlib
    import json
    import os
    import sys
    import uuid

    spec = json.loads(sys.argv[1])
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
    print("BENCH " + json.dumps({**timings, "result": result}), flush=True)


if __name__ == "__main__":
    main()
