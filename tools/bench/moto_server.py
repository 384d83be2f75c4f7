"""``python -m tools.bench.moto_server -H 127.0.0.1 -p PORT``: moto's server, each DynamoDB request applied
atomically (``local.moto_atomic``), as the local stack's in-process server does. Without it, concurrent
requests (the burst, the budget's pollers) can see half-written items or undo each other's transactions."""

import sys

from local.moto_atomic import make_dynamodb_atomic


def main() -> None:
    from moto.server import main as moto_main

    make_dynamodb_atomic()
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
