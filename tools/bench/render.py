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
        f"   {'function':<24}{'median s':>9}{'ratio':>8}{'goal':>12}{'import s':>10}{'1st event s':>12}"
        "  top imports, cumulative ms",
    ]
    for name, row in cold["functions"].items():
        top = ", ".join(
            f"{m['module']} {m['cumulative_ms']:.0f}"
            for m in row["importtime"]["top_cumulative"]
            if m["depth"] == 0
        )
        goal = f"<={row['goal']} {'ok' if row['meets_goal'] else 'MISS'}"
        lines.append(
            f"   {name:<24}{row['median_s']:>9.3f}{row['ratio']:>7.2f}x{goal:>12}"
            f"{row['import_median_s']:>10.3f}{row['first_event_median_s']:>12.3f}  {top[:70]}"
        )
    return lines


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
        f"   {'scenario':<28}{'Zendesk':>8}{'Jira':>6}{'DynamoDB':>9}{'SQS':>5}{'+links':>7}{'-links':>7}"
        f"{'ZD/link':>8}{'DB/change':>10}  goals",
    ]
    for name, row in eco["scenarios"].items():
        per = row.get("zendesk_calls_per_link_created", row.get("zendesk_calls_per_link_deleted"))
        goals = " ".join(
            f"{k.replace('zendesk_calls_per_link_', 'ZD/').replace('_calls', '')}<={g['goal']}:"
            f"{'ok' if g['ok'] else 'MISS'}"
            for k, g in row["goals"].items()
        )
        per_change = _fmt(row.get("dynamodb_requests_per_link_change"), ".1f")
        lines.append(
            f"   {name:<28}{row['zendesk_calls']:>8}{row['jira_calls']:>6}{row['dynamodb_requests']:>9}"
            f"{row['sqs_requests']:>5}{row['links_created']:>7}{row['links_deleted']:>7}"
            f"{_fmt(per, '.2f'):>8}{per_change:>10}  {goals}"
        )
    f = eco.get("under_faults", {})
    if f:
        lines.append(
            f"   under faults (soak: {f['events']} events, {f['link_changes']} link changes): "
            f"{f['zendesk_calls_per_link_change']} Zendesk calls, {f['dynamodb_requests_per_link_change']} "
            f"DynamoDB requests per link change; {f['lost']} lost, {f['duplicates']} duplicates, "
            f"{f['orphans']} orphans"
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
