"""The reconcile job's scratch items: each kind streams in pair order, and a step resumed after a pair never
sees that pair again (its ``L#`` items go on past the pair with ``#<link id>``)."""

from __future__ import annotations

from typing import Any

from linksync.reconcile.store import JobStore, pair_key, pair_sk
from tests.unit.pair_world import World


def _store(world: World) -> JobStore:
    return JobStore(world.stack.physical["LinksTable"], client=world.stack.dynamodb)


def test_streaming_after_a_pair_skips_every_item_of_it(world: World) -> None:
    store = _store(world)
    pairs = [("1", "10"), ("1", "11"), ("2", "10"), ("30", "5")]
    items: dict[str, dict[str, Any]] = {
        f"{pair_sk('L', i, t)}#{link}": {} for (i, t), link in zip(pairs, (7, 8, 9, 12), strict=True)
    }
    items[f"{pair_sk('L', '1', '11')}#99"] = {}  # a repeat link of one pair
    items |= {pair_sk("J", i, t): {} for i, t in pairs}
    store.put("job", items)
    every = store.stream("job", "L", None, 10)
    assert [pair_key(sk) for sk in every] == sorted(pair_key(sk) for sk in every)
    assert len(every) == 5
    after = pair_key(pair_sk("L", "1", "11"))
    assert [pair_key(sk) for sk in store.stream("job", "L", after, 10)] == [
        pair_key(pair_sk("L", "2", "10")),
        pair_key(pair_sk("L", "30", "5")),
    ]
    assert [pair_key(sk) for sk in store.stream("job", "J", after, 10)] == [
        pair_key(pair_sk("J", "2", "10")),
        pair_key(pair_sk("J", "30", "5")),
    ]
    assert store.stream("job", "L", pair_key(pair_sk("L", "30", "5")), 10) == []
