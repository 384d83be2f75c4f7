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
   The cold section also times the handler's import against a bare ``import boto3, requests``, and traces
   a few more cold starts to break the first event down: every AWS request, vendor request and botocore
   client made, in order, with how long each took.
3. API economy (counted): Zendesk, Jira, DynamoDB and SQS calls per link created or deleted, per replayed
   delivery (Jira, and Zendesk events with and without a carried value), per webhook that changes
   nothing, per Zendesk-originated link; and Zendesk calls per link change under faults: the soak at fault
   rates 0-50%, beside the floor 1 / (1 - rate), with the calls by kind.
4. Scale: a burst of mixed webhooks through the handlers on a few threads (events/s versus replaying the
   same calls directly on as many threads), and deleting an issue with 1, 10, 100 and 1,000 links.
5. Size: the unzipped build (``.aws-sam/build``, refreshed with ``sam build`` when it exists) against
   Lambda's 250 MB limit and against the dependencies alone.
6. Call budget: a burst of Jira changes under ``ZendeskCallsPerMinute``, the retry worker fed by an SQS
   event source as the template configures it: time to converge against calls / budget, the share of the
   budget used, how often each operation was queued and how late deferred work woke.
7. Backfill: a full reconcile job, applied, on N issues and N tickets seeded into the sandbox: calls by
   kind, per link, per page, and the time it would take under a budget.

``python -m tools.bench [--runs N] [--quick | --full] [--out PATH] [--only SECTIONS] [--no-plots]``;
``make bench`` also draws ``docs/bench/budget.png`` and ``docs/bench/faults.png`` with matplotlib from
``.venv-plot`` (``plots``, run as a child process so the dev venv does without matplotlib).

Modules: ``config`` (constants, goals, workload sizes), ``probe`` (counting calls), ``kinds`` (what each
vendor call was for), ``figures`` (the pure arithmetic of derived figures), ``replay`` (the direct-call
baseline), ``world`` (moto, the sandbox, the handlers in this process; ``moto_server`` is moto with atomic
DynamoDB requests), one module per section (``cold`` with its child processes ``child_cold`` and
``child_baseline``, ``warm``, ``economy``, ``scale`` with ``deletes``, ``size``, ``budget`` with
``eventsource``, ``backfill``), ``results`` (running the sections, misses), ``render`` (the table),
``plots`` (the pictures) and ``cli``.

This file imports nothing: the cold-start children run as ``python -m tools.bench.child_*`` and import it.
"""
