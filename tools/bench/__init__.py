"""`make bench`: how fast and how frugal the functions are, each timing a ratio against a baseline.

Every timing figure is a RATIO of two medians measured in the same run: the subject's and a baseline's,
each over ``--runs`` (at least 5) fresh runs, baseline and subject runs interleaved so machine noise hits
both. Counted figures (API calls) are exact. The table is printed and written to
``.aws-sam/bench-results.json`` (``--out``).

1. Cold start, per function: a fresh ``python`` process imports the handler as Lambda does (its CodeUri
   folder, then the layer, on ``sys.path``) and serves its first event (the signed samples in ``events/``)
   against a fresh stack prefix on the moto server and the vendor sandbox, versus a process that only
   imports boto3 and requests and builds the same clients. Plus the top imports from ``-X importtime``.
2. Warm path: the Jira webhook's time per event in a warm in-process loop (issue_created, one new link
   each, idempotency on) versus replaying exactly the calls it made (DynamoDB, SQS, Zendesk: recorded
   through botocore hooks and the sandbox) with boto3 and requests directly.
3. API economy (counted): Zendesk, Jira, DynamoDB and SQS calls per link created or deleted, per replayed
   delivery, per Zendesk-originated link; and Zendesk calls per link change under faults (the soak run).
4. Scale: a burst of mixed webhooks through the handlers on a few threads (events/s versus replaying the
   same calls directly on as many threads), and deleting an issue with 1, 10, 100 and 1,000 links.
5. Size: the unzipped build (``.aws-sam/build``, refreshed with ``sam build`` when it exists) against
   Lambda's 250 MB limit and against the dependencies alone.

``python -m tools.bench [--runs N] [--quick] [--out PATH] [--only cold,warm,economy,scale,size]``

Modules: ``config`` (constants, workload sizes), ``probe`` (counting calls), ``replay`` (the direct-call
baseline), ``world`` (moto, the sandbox, the handlers in this process), one module per section (``cold``
with its child processes ``child_cold`` and ``child_baseline``, ``warm``, ``economy``, ``scale`` with
``deletes``, ``size``), ``results`` (running the sections, misses), ``render`` (the table) and ``cli``.

This file imports nothing: the cold-start children run as ``python -m tools.bench.child_*`` and import it.
"""
