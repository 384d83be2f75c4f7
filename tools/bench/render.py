"""The table ``make bench`` prints, from the results it writes."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


def _render_cold(cold: dict[str, Any]) -> list[str]:
    base = cold["baseline"]
    lines = [
        "",
        "1. COLD START  process start -> first event answered (parent's clock); baseline: import boto3, "
        f"requests + 3 clients + Session = {base['median_s']:.3f} s",
        f"   {'function':<24}{'median s':>9}{'ratio':>8}{'goal':>12}{'import s':>10}{'vs bare':>8}"
        f"{'goal':>12}{'1st event s':>12}  top imports, cumulative ms",
    ]
    for name, row in cold["functions"].items():
        top = ", ".join(
            f"{m['module']} {m['cumulative_ms']:.0f}"
            for m in row["importtime"]["top_cumulative"]
            if m["depth"] == 0
        )
        goal = f"<={row['goal']} {_ok(row['meets_goal'])}"
        import_goal = f"<={row['import_goal']} {_ok(row['import_meets_goal'])}"
        lines.append(
            f"   {name:<24}{row['median_s']:>9.3f}{row['ratio']:>7.2f}x{goal:>12}"
            f"{row['import_median_s']:>10.3f}{row['import_ratio']:>7.2f}x{import_goal:>12}"
            f"{row['first_event_median_s']:>12.3f}  {top[:60]}"
        )
    bare = cold.get("import_baseline", {}).get("import_median_s")
    if bare is not None:
        lines.append(
            f"   (vs bare: the handler's import against `import boto3, requests` alone, {bare:.3f} s)"
        )
    for name, trace in cold.get("first_event_breakdown", {}).items():
        totals = ", ".join(
            f"{k.removeprefix('first event: ')} {v['count']}x {v['ms']:.0f} ms"
            for k, v in trace["totals"].items()
            if k.startswith("first event")
        )
        lines.append(f"   {name} first event {trace['first_event_s'] * 1000:.0f} ms: {totals}")
    return lines


def _ok(flag: bool) -> str:
    return "ok" if flag else "MISS"


def _render_warm(warm: dict[str, Any]) -> list[str]:
    cpe = warm["calls_per_event"]
    ops = ", ".join(f"{k.split('.')[1]} {v:g}" for k, v in warm["aws_ops_per_event"].items())
    return [
        "",
        f"2. WARM PATH  Jira issue_created -> 1 link on a fresh pair, {warm['events_per_run']} events/run, "
        "idempotency on",
        f"   handler {warm['subject']['median_ms_per_event']:.2f} ms/event vs the same calls made directly "
        f"{warm['baseline']['median_ms_per_event']:.2f} ms/event = {warm['ratio']:.2f}x "
        f"(goal <= {warm['goal']}x) {'ok' if warm['meets_goal'] else 'MISS'}",
        f"   calls per event: DynamoDB {cpe['dynamodb']} ({ops}), SQS {cpe['sqs']}, "
        f"Zendesk {cpe['zendesk']}, "
        f"Jira {cpe['jira']}",
    ]


def _render_economy(eco: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "3. API ECONOMY  calls counted per event, happy path (ZD/link: Zendesk calls per link changed)",
        f"   {'scenario':<31}{'Zendesk':>8}{'Jira':>5}{'DynamoDB':>9}{'SQS':>4}{'+links':>7}{'-links':>7}"
        f"{'ZD/link':>8}{'DB/link':>8}  goals",
    ]
    for name, row in eco["scenarios"].items():
        per = row.get("zendesk_calls_per_link_created", row.get("zendesk_calls_per_link_deleted"))
        db = row.get("dynamodb_requests_per_link_created", row.get("dynamodb_requests_per_link_deleted"))
        goals = " ".join(f"{_goal_name(k)}<={g['goal']}:{_ok(g['ok'])}" for k, g in row["goals"].items())
        lines.append(
            f"   {name:<31}{row['zendesk_calls']:>8}{row['jira_calls']:>5}{row['dynamodb_requests']:>9}"
            f"{row['sqs_requests']:>4}{row['links_created']:>7}{row['links_deleted']:>7}"
            f"{_fmt(per, '.2f'):>8}{_fmt(db, '.1f'):>8}  {goals or '-'}"
        )
    f = eco.get("under_faults", {})
    if f.get("sweep"):
        lines += _render_faults(f)
    return lines


def _goal_name(key: str) -> str:
    return {
        "zendesk_calls_per_link_created": "ZD/link",
        "zendesk_calls_per_link_deleted": "ZD/link",
        "dynamodb_requests_per_link_created": "DB/link",
        "zendesk_calls": "ZD",
        "jira_calls": "Jira",
        "dynamodb_requests": "DB",
    }.get(key, key)


def _render_faults(f: dict[str, Any]) -> list[str]:
    goal = f["goal"]
    lines = [
        f"   under faults: {f['what']}",
        f"   {'fault rate':>12}{'changes':>8}{'ZD calls':>9}{'per change':>11}{'floor':>7}{'excess':>8}"
        f"{'DB/change':>10}{'lost':>5}{'dup':>4}{'orph':>5}{'s':>6}  calls per change by kind",
    ]
    for row in f["sweep"]:
        bf = row["beyond_floor"]
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in bf.get("by_kind_per_change", {}).items())
        lines.append(
            f"   {row['fault_rate']:>11.0%}{row['link_changes']:>8}{row['zendesk_calls']:>9}"
            f"{_fmt(row['zendesk_calls_per_link_change'], '.2f'):>11}{row['floor']:>7.2f}"
            f"{_fmt(bf.get('excess_per_change'), '+.2f'):>8}"
            f"{_fmt(row['dynamodb_requests_per_link_change'], '.1f'):>10}"
            f"{row['lost']:>5}{row['duplicates']:>4}{row['orphans']:>5}{row['seconds']:>6.0f}  {kinds}"
        )
    lines.append(
        f"   goal at {goal['fault_rate']:.0%}: <= {goal['goal']} Zendesk calls per change: {goal['value']} "
        f"{_ok(goal['ok'])}" + ("" if goal["ok"] or goal["by"] is None else f" by {goal['by']:+.2f}")
    )
    return lines


def _render_scale(scale: dict[str, Any]) -> list[str]:
    burst = scale["burst"]
    pe = burst["per_event"]
    lines = [
        "",
        "4. SCALE",
        f"   burst: {burst['what']}",
        f"   {burst['events_per_second']:.1f} events/s vs the same calls made directly "
        f"{burst['baseline']['events_per_second']:.1f} events/s = {burst['ratio']:.2f}x the time per event; "
        f"answers {burst['answers']}",
        f"   per event: Zendesk {pe['zendesk_calls']}, DynamoDB {pe['dynamodb_requests']}, "
        f"links +{pe['links_created']} -{pe['links_deleted']}",
        f"   {'delete issue with N links':<26}{'Zendesk':>8}{'ZD/link':>8}{'DynamoDB':>9}{'DB/link':>8}"
        f"{'median s':>9}{'t/t(1)':>8}{'per link':>9}{'queued':>7}",
    ]
    lines += [_delete_row(n, row) for n, row in scale["delete_issue"]["sizes"].items()]
    return lines


def _delete_row(n: str, row: dict[str, Any]) -> str:
    drained = row.get("drained", {})
    zd = row["zendesk_calls"] + drained.get("zendesk_calls", 0)
    db = row["dynamodb_requests"] + drained.get("dynamodb_requests", 0)
    if "median_s" in row:
        timing = f"{row['median_s']:>9.3f}{row['time_ratio_vs_1']:>7.1f}x{row['time_ratio_per_link']:>9.3f}"
    else:
        timing = f"{'(' + format(row['indicative_s'], '.1f') + ' s, 1 run)':>26}"
    return (
        f"   {n:<26}{zd:>8}{_fmt(row['zendesk_calls_per_link'], '.2f'):>8}{db:>9}"
        f"{_fmt(row['dynamodb_requests_per_link'], '.1f'):>8}{timing}"
        f"{_fmt(row['answer'].get('queued')):>7}"
    )


def _checks(goals: dict[str, Any]) -> str:
    return "; ".join(
        f"{k} {_fmt(g['value'])} ({g.get('op', '<=')} {g['goal']}) {_ok(g['ok'])}" for k, g in goals.items()
    )


def _render_budget(bud: dict[str, Any]) -> list[str]:
    late = bud["wake_late_s"]
    scaled = " (SCALED DOWN: --quick)" if bud.get("scaled") else ""
    return [
        "",
        f"6. CALL BUDGET  {bud['changes']} Jira changes under ZendeskCallsPerMinute={bud['per_minute']}"
        f"{scaled}",
        f"   {bud['what']}",
        f"   last link at {_fmt(bud['converged_s'], '.1f')} s vs ideal {bud['ideal_s']:.0f} s "
        f"({bud['changes']} calls / {bud['per_minute']} a minute); {bud['links_created']} links; webhooks "
        f"answered {bud['answers']} in {bud['sent_all_s']:.1f} s",
        f"   times each operation was queued: {bud['times_queued_distribution']} "
        f"(max {bud['max_times_queued']}); "
        f"deferred work woke after its turn: p50 {_fmt(late['p50'])} s, p90 {_fmt(late['p90'])} s, max "
        f"{_fmt(late['max'])} s; worker batches {bud['event_source']['batches']} "
        f"(mean {bud['event_source']['mean_batch']} records)",
        f"   Zendesk calls per 10 s (allowed {bud['allowed_per_10s']}): {bud['calls_per_10s']}",
        f"   goals: {_checks(bud['goals'])}",
    ]


def _render_backfill(bf: dict[str, Any]) -> list[str]:
    exp = bf["expected"]
    under = ", ".join(f"{pm}/min {s / 60:.1f} min" for pm, s in bf["ideal_seconds_under_budget"].items())
    return [
        "",
        f"7. BACKFILL  {bf['what']}",
        f"   expected: {exp['missing']} to create, {exp['dead']} dead, {exp['linked_before']} linked "
        f"already, {exp['manual']} by hand; job done={bf['done']} in {bf['slices']} slice(s), converged="
        f"{bf['converged']}, created {bf['created']}, deleted {bf['deleted']}",
        f"   the job's report {bf['report']}; as seeded: "
        f"{'yes' if all(bf['report_as_expected'].values()) else bf['report_as_expected']}",
        f"   Zendesk calls {bf['zendesk_calls']} ({bf['zendesk_page_reads']} page reads), Jira calls "
        f"{bf['jira_calls']}, DynamoDB requests {bf['dynamodb_requests']}",
        f"   by kind: {bf['calls_by_kind']} (links of one issue or ticket: "
        f"{bf['calls_by_kind'].get('zendesk links of one', 0)}, {bf['links_of_one_expected']} expected, "
        "to purge each dead issue (2 pages) and ticket (1))",
        f"   retry queue after the job: {bf['retry_queue']}",
        f"   wall time {bf['seconds']:.0f} s with the budget unlimited (the export's 10 pages a minute "
        f"alone: {bf['export_floor_seconds']:.0f} s); ideal under a budget: {under}",
        f"   goals: {_checks(bf['goals'])}",
    ]


def _render_size(size: dict[str, Any]) -> list[str]:
    lines = ["", "5. SIZE  unzipped, .aws-sam/build"]
    if "skipped" in size:
        return [*lines, f"   {size['skipped']}"]
    sb = size["sam_build"]
    if sb.get("ran"):
        lines.append(f"   sam build: {'ok' if sb.get('ok') else 'FAILED'} in {sb['seconds']} s")
    else:
        lines.append(f"   sam build: not run ({sb['why']})")
    lines.append(
        f"   layer {size['layer_mb']} MB = dependencies {size['dependencies_mb']} MB + linksync "
        f"{size['linksync_package_kb']} KB ({size['layer_vs_dependencies']:.3f}x the dependencies alone)"
    )
    for name, row in size["functions"].items():
        lines.append(
            f"   {name:<24} code {row['function_bytes'] / 1024:.1f} KB; "
            f"with the layer {row['with_layer_mb']} MB "
            f"= {row['of_lambda_limit']:.1%} of {size['lambda_limit_mb']} MB, "
            f"{row['vs_dependencies_alone']:.3f}x the dependencies"
        )
    lines.append(f"   largest in the layer (MB): {size['largest_packages_mb']}")
    return lines


def render(results: dict[str, Any]) -> list[str]:
    meta = results["meta"]
    mode = "quick, " if meta["quick"] else "full, " if meta.get("full") else ""
    lines = [
        f"zendesk-jira-linksync bench ({mode}median of {meta['runs']} runs, {meta['cpus']} CPUs, "
        f"Python {meta['python']}, {meta['seconds']:.0f} s)"
    ]
    if "functions" in results["cold_start"]:
        lines += _render_cold(results["cold_start"])
    if "ratio" in results["warm"]:
        lines += _render_warm(results["warm"])
    if "scenarios" in results["economy"]:
        lines += _render_economy(results["economy"])
    if "changes" in results.get("budget", {}):
        lines += _render_budget(results["budget"])
    if "expected" in results.get("backfill", {}):
        lines += _render_backfill(results["backfill"])
    if "burst" in results["scale"]:
        lines += _render_scale(results["scale"])
    lines += _render_size(results["size"])
    if results.get("function_errors"):
        lines += [
            "",
            f"FUNCTION ERRORS ({len(results['function_errors'])}, first): {results['function_errors'][0]}",
        ]
    lines += ["", "MISSES: " + ("; ".join(results["misses"]) if results["misses"] else "none")]
    return lines
