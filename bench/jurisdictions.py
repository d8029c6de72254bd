"""Jurisdictions benchmark: the directory, a jurisdiction's page, the home page, the metrics CSV and the progress API
with 100 jurisdictions of five years of monthly reports each.

It builds a throw-away instance (SQLite, migrated, the default content's pages only: the home page needs its
page, and the default jurisdictions would change the counts below), makes through the services 100
jurisdictions, each with 60 monthly metric reports (five years) and three programs, then serves the portal
under the production settings bench/site.py uses (gunicorn, 2 sync workers, PORTAL_ENV=production, loopback
only) and runs wrk (16 connections, --latency) against:

    /jurisdictions   /jurisdictions/<slug> (its SVG chart of 60 reports)   /
    /jurisdictions/metrics.csv (6,000 rows)   /api/v1/progress

with the bare Flask route of bench/site.py measured (for half the duration) right before each address, so
each ratio compares two runs under the same machine load. Ratios are what count; when the bare route's own
p99 is high (printed beside), the p99 target cannot be judged.

Pages are answered to anonymous readers, as they are served: a page with a validator
(portal/http_cache_validators.py) is kept in each process's page cache and served from it until its ETag
changes (at the latest each minute). The table says, per address, whether the answer carried a validator
(ETag, public Cache-Control) and whether an app built with the instance's settings served a second request
from its page cache.

Targets (the brief): each address >= 0.25 of the bare route's requests/s with p99 <= 30 ms.

Usage:
    .venv/bin/python bench/jurisdictions.py [--jurisdictions 100] [--duration 10] [--save] [--label NAME]
With --save the results also go to bench/results/jurisdictions-<label>.json.
"""
import argparse
import importlib.util
import json
import os
import secrets
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET = (0.25, 30.0)    # ratio to bare, p99 ms
YEARS, FIRST_YEAR = 5, 2020
BATCH = 20               # jurisdictions per unit of work
STATES = ("Arizona", "California", "Colorado", "Illinois", "Minnesota", "New York", "Oregon", "Texas",
          "Washington", "Georgia")
PROGRAMS = ("Community responders", "Crisis van", "Behavioral health team")

# bench/site.py's gunicorn start-up, readiness wait, probe, wrk runner, bare app and stop_servers (loaded by
# path: the module name "site" is the standard library's).
_spec = importlib.util.spec_from_file_location("bench_site", Path(__file__).with_name("site.py"))
bench_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_site)


# --- set-up, run in a subprocess with the instance's environment -------------------------------------------

def setup(count: int) -> dict:
    """The home page's page from the default content, then `count` jurisdictions with their reports and
    programs, BATCH jurisdictions per unit of work."""
    import calendar
    import random
    from datetime import date

    from sqlalchemy import func, select

    from portal import create_app
    from portal.content import LoadReport, load_pages
    from portal.extensions import db
    from portal.jurisdictions import metrics, programs, services
    from portal.jurisdictions.models import Jurisdiction, MetricReport, Program
    from portal.uow import unit_of_work

    app = create_app()
    randomly = random.Random(2034)  # the same figures every run
    slugs = [f"bench-city-{n:03d}" for n in range(count)]
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(Jurisdiction)):
            sys.exit("the database already has jurisdictions: give the bench an empty one")
        loaded = LoadReport()
        with unit_of_work():
            load_pages(ROOT / "content", loaded)
        if loaded.errors:
            sys.exit(f"the default pages did not load: {loaded.errors}")
        for batch in range(0, count, BATCH):
            with unit_of_work():
                for n in range(batch, min(batch + BATCH, count)):
                    annual = randomly.randrange(50_000, 2_000_000)
                    jurisdiction, _ = services.save_jurisdiction(
                        slug=slugs[n], name=f"Bench City {n:03d}", state=STATES[n % len(STATES)],
                        annual_calls=annual, goal_rate=0.2, goal_year=2034)
                    rate, rows = randomly.uniform(0.01, 0.08), []
                    for month in range(YEARS * 12):
                        year, number = FIRST_YEAR + month // 12, month % 12 + 1
                        total = max(1, round(annual / 12 * randomly.uniform(0.85, 1.15)))
                        rate = min(0.5, rate * randomly.uniform(0.98, 1.05))
                        rows.append((month + 1, metrics.clean_report(
                            period_start=date(year, number, 1),
                            period_end=date(year, number, calendar.monthrange(year, number)[1]),
                            total=total, diverted=round(total * rate))))
                    metrics.store_reports(jurisdiction, rows, actor=None, origin="staff", correct=False)
                    for name in PROGRAMS:
                        programs.save_program(jurisdiction, actor=None, name=name, model="community_responder")
        made = {table.__tablename__: db.session.scalar(select(func.count()).select_from(table))
                for table in (Jurisdiction, MetricReport, Program)}
    return {"slug": slugs[count // 2], "counts": made}


def page_cache(paths: list[str]) -> dict:
    """Per path, whether the second anonymous request of one process was answered from its page cache
    (portal/http_cache.py), in an app built with the instance's settings."""
    from flask import g, request

    from portal import create_app

    app = create_app()
    served = {}

    @app.after_request
    def note(response):
        served[request.full_path.rstrip("?")] = bool(g.get("http_page_from_cache"))
        return response

    client = app.test_client()
    found = {}
    for path in paths:
        client.get(path)
        answer = client.get(path)
        found[path] = served.get(path, False) and answer.status_code == 200
    return found


def in_instance(env: dict, step: str, *args) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--step", step, *map(str, args)]
    out = bench_site.run(command, cwd=ROOT, env=env, timeout=1800)
    return json.loads(out.strip().splitlines()[-1])


# --- the run ------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jurisdictions", type=int, default=100)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per address")
    parser.add_argument("--label", default="current", help="names the results file (with --save)")
    parser.add_argument("--save", action="store_true", help="write bench/results/jurisdictions-<label>.json")
    parser.add_argument("--keep", action="store_true", help="keep the temp instance")
    parser.add_argument("--step", choices=("setup", "cache"), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.step == "setup":
        print(json.dumps(setup(int(options.args[0]))))
        return
    if options.step == "cache":
        print(json.dumps(page_cache(options.args)))
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (make system-deps)")

    temp = Path(tempfile.mkdtemp(prefix="portal-bench-jurisdictions-"))
    port, bare_port = bench_site.free_port(), bench_site.free_port()
    env = {**os.environ, "PORTAL_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
           "PORTAL_INSTANCE_PATH": str(temp / "instance"), "SITE_URL": f"http://127.0.0.1:{port}",
           "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
           # wrk sends everything from one address: the API's per-address limit would answer 429 to the bench.
           "API_READ_LIMIT": "1000000 per minute"}
    for name in ("DATABASE_URL", "REDIS_URL", "SEARCH_INDEX_DIR", "UPLOAD_DIR", "MAIL_SERVER", "MAIL_OUTBOX_DIR"):
        env.pop(name, None)
    servers = []
    try:
        print(f"building the instance in {temp} ...", file=sys.stderr)
        bench_site.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env)
        made = in_instance(env, "setup", options.jurisdictions)
        print(f"made {made['counts']}", file=sys.stderr)
        paths = ["/jurisdictions", f"/jurisdictions/{made['slug']}", "/", "/jurisdictions/metrics.csv",
                 "/api/v1/progress"]
        cached = in_instance(env, "cache", *paths)
        (temp / "bare").mkdir()
        (temp / "bare" / "bare_app.py").write_text(bench_site.BARE_APP)
        log = open(temp / "gunicorn.log", "w")  # noqa: SIM115 (closed with the servers below)
        servers.append(bench_site.start_gunicorn("app:app", ROOT, env, port, log))
        servers.append(bench_site.start_gunicorn("bare_app:app", temp / "bare", env, bare_port, log))
        base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}/"
        bench_site.wait_ready(base + "/healthz", servers[0])
        bench_site.wait_ready(bare, servers[1])

        rows = []
        print(f"wrk: {bench_site.CONNECTIONS} connections, {options.duration} s per address, "
              f"{bench_site.WORKERS} gunicorn workers", file=sys.stderr)
        for path in paths:
            seen = bench_site.probe(base + path)
            reference = bench_site.wrk(bare, max(2, options.duration // 2))
            measured = bench_site.wrk(base + path, options.duration)
            ratio, p99 = TARGET
            row = {"path": path, **seen, **measured, "bare_rps": reference["rps"],
                   "bare_p99_ms": reference["p99_ms"], "ratio": measured["rps"] / reference["rps"],
                   "validated": bool(seen["etag"]) and (seen["cache_control"] or "").startswith("public"),
                   "page_cached": cached.get(path, False), "target": {"ratio": ratio, "p99_ms": p99}}
            row["meets"] = row["ratio"] >= ratio and measured["p99_ms"] <= p99 and seen["status"] == 200 \
                and not measured["non_2xx"] and not measured["socket_errors"]
            rows.append(row)
            print(f"  {path}: {measured['rps']:.0f} req/s (bare {reference['rps']:.0f})", file=sys.stderr)
        report(rows, made)
        if options.save:
            RESULTS.mkdir(parents=True, exist_ok=True)
            out = RESULTS / f"jurisdictions-{options.label}.json"
            out.write_text(json.dumps({
                "label": options.label, "when": datetime.now(timezone.utc).isoformat(),
                "duration_s": options.duration, "connections": bench_site.CONNECTIONS,
                "workers": bench_site.WORKERS, "load_average": os.getloadavg(), "data": made, "rows": rows},
                indent=2))
            print(f"\nwritten to {out}")
    finally:
        bench_site.stop_servers(servers)
        if not options.keep:
            shutil.rmtree(temp, ignore_errors=True)


def report(rows, made: dict) -> None:
    counts = made["counts"]
    print(f"\n{counts['jurisdictions']} jurisdictions, {counts['metric_reports']} metric reports, "
          f"{counts['programs']} programs; wrk {bench_site.CONNECTIONS} connections, {bench_site.WORKERS} gunicorn "
          f"workers; load average {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print("\n| address | req/s | bare req/s | ratio to bare | p50 ms | p99 ms | bare p99 ms | bytes | cached | "
          "target | verdict |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
    for row in rows:
        target = f">= {row['target']['ratio']}, p99 <= {row['target']['p99_ms']:.0f} ms"
        if row["page_cached"]:
            cached = "yes (page cache)"
        elif row["validated"]:
            cached = "ETag only (rendered)"
        else:
            cached = "no (rendered every time)"
        problems = [] if row["status"] == 200 else [f"status {row['status']}"]
        if row["non_2xx"]:
            problems.append(f"{row['non_2xx']} non-2xx")
        if row["socket_errors"]:
            problems.append(f"{row['socket_errors']} socket errors")
        verdict = ("PASS" if row["meets"] else "MISS") + (f" ({', '.join(problems)})" if problems else "")
        print(f"| `{row['path']}` | {row['rps']:.0f} | {row['bare_rps']:.0f} | {row['ratio']:.3f} | "
              f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['bare_p99_ms']:.1f} | {row['bytes']} | {cached} | "
              f"{target} | {verdict} |")
    missed = [row["path"] for row in rows if not row["meets"]]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} addresses meet the target"
          + (f"; missed: {', '.join(missed)}" if missed else ""))


if __name__ == "__main__":
    main()
