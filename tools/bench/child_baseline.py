"""The cold-start baseline, in a fresh process: import boto3 and requests and build the clients the
functions build (DynamoDB, SQS, Secrets Manager, a requests Session), and nothing else.

``python -m tools.bench.child_baseline SPEC`` (started by ``tools.bench.cold`` like ``child_cold``). SPEC
``{"bare": true}`` makes it the import baseline: ``import boto3, requests`` and nothing more. It answers as
``child_cold`` does, one ``BENCH {json}`` line, with no first event and no result.

Nothing is imported before the clock starts but ``time``; the rest is imported inside ``main``.
"""

import time

T0 = time.perf_counter()


def main() -> None:
    import json
    import sys

    import boto3
    import requests

    bare = bool(json.loads(sys.argv[1]).get("bare")) if len(sys.argv) > 1 else False
    clients = [] if bare else [boto3.client(name) for name in ("dynamodb", "sqs", "secretsmanager")]
    session = None if bare else requests.Session()
    t1 = time.perf_counter()
    timings = {"import_s": t1 - T0, "first_event_s": 0.0, "epoch_done": time.time()}
    timings["epoch_start"] = timings["epoch_done"] - (time.perf_counter() - T0)
    print("BENCH " + json.dumps({**timings, "result": None}), flush=True)
    del clients, session


if __name__ == "__main__":
    main()
