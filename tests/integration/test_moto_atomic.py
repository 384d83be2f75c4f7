"""The local moto server applies each DynamoDB request atomically, as DynamoDB does (local/moto_atomic.py):
a transaction whose condition fails must not undo writes other threads made meanwhile."""

from __future__ import annotations

import threading

import boto3

from local.stack import moto_server

TABLE = "atomic"


def test_failing_transactions_do_not_undo_concurrent_writes() -> None:
    with moto_server() as url:
        client = boto3.client(
            "dynamodb",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # nosec B106  # moto's
        )
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName=TABLE, Item={"pk": {"S": "present"}})
        for n in range(300):  # a table worth copying
            client.put_item(TableName=TABLE, Item={"pk": {"S": f"filler-{n}"}, "data": {"S": "x" * 200}})
        failures: list[BaseException] = []
        stop = threading.Event()

        def failing_transactions() -> None:
            while not stop.is_set():
                try:
                    client.transact_write_items(
                        TransactItems=[
                            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "tx"}}}},
                            {
                                "ConditionCheck": {
                                    "TableName": TABLE,
                                    "Key": {"pk": {"S": "present"}},
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                }
                            },
                        ]
                    )
                except client.exceptions.TransactionCanceledException:
                    continue
                except BaseException as e:  # a 500 from a copy that broke
                    failures.append(e)

        def writer(name: str) -> None:
            for n in range(150):
                client.put_item(TableName=TABLE, Item={"pk": {"S": f"{name}-{n}"}})

        transactions = [threading.Thread(target=failing_transactions) for _ in range(2)]
        writers = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
        for t in [*transactions, *writers]:
            t.start()
        for t in writers:
            t.join()
        stop.set()
        for t in transactions:
            t.join()

        written = {f"w{i}-{n}" for i in range(3) for n in range(150)}
        keys = [{"pk": {"S": k}} for k in sorted(written)]
        found: set[str] = set()
        for start in range(0, len(keys), 100):
            got = client.batch_get_item(RequestItems={TABLE: {"Keys": keys[start : start + 100]}})
            found |= {item["pk"]["S"] for item in got["Responses"][TABLE]}
        assert failures == []
        assert found == written
