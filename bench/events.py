"""Events benchmark: a burst of registrations for one event, and the public calendar feed with many events.

It builds a throw-away instance (SQLite by default; DATABASE_URL, when set, names an empty database to use
instead), makes through the services 200 verified members, one 100-seat event and 499 more events, then
serves the portal under the production settings bench/site.py uses (gunicorn, 2 sync workers,
PORTAL_ENV=production, loopback only) and measures:

1. Registration: each member signs in over HTTP (a session of their own, like a browser), then all 200 are
   released at once by a barrier, each POSTing /events/<slug>/register with its CSRF token from its own
   connection. It prints the p50/p99 of those requests, checks in the database that exactly 100 hold a seat
   and 100 wait in line, and counts errors (an exception, or any answer but a redirect). The reference is
   the same burst of 200 simultaneous requests against /healthz (one SELECT) of the same server, measured
   just before, so the ratio compares two bursts under the same machine load.
2. The feed: /events.ics with 500 events, under wrk (16 connections) like bench/site.py, with the bare
   Flask route of bench/site.py measured right before it as the reference: requests/s, the ratio, p50, p99
   and the size of the answer; then again with the feed's ETag in If-None-Match, as a subscribed calendar
   asks (304s).

Each member has an address of their own (X-Forwarded-For, with PROXY_COUNT=1 as behind a proxy): the
per-address sign-in limit would otherwise stop the set-up after ten sign-ins, and 200 people registering
at once come from 200 addresses. Mail is written as .eml files (MAIL_SERVER unset), inside the request,
so a registration's time includes writing its confirmation; with MAIL_SERVER set it is only queued.
Absolute times depend on whatever else the machine is doing; the ratios are what to compare between runs.

Usage:
    .venv/bin/python bench/events.py [--members 200] [--seats 100] [--events 500] [--duration 10]
Results go to bench/results/events-<label>.json.
"""
import argparse
import http.client
import importlib.util
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "a long and unusual bench passphrase 41"
EVENT_SLUG = "registration-burst"

# bench/site.py's gunicorn start-up, readiness wait, wrk runner and bare app (a file, not a package: loaded
# by path, since the module name "site" is the standard library's).
_spec = importlib.util.spec_from_file_location("bench_site", Path(__file__).with_name("site.py"))
bench_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_site)


# --- set-up, run in a subprocess with the instance's environment -------------------------------------------

def setup(members: int, seats: int, event_count: int) -> dict:
    """Members, the burst's event and the feed's other events, made through the services as an operator's
    script would. Members' passwords are hashed at argon2's smallest cost: signing in is not measured here
    (the first sign-in re-hashes at the production cost, as it would for an old hash)."""
    from datetime import timedelta
    from email import message_from_bytes, policy

    from sqlalchemy import func, select

    from portal import create_app
    from portal.database import utcnow
    from portal.events import services as events
    from portal.events.models import Event
    from portal.extensions import db
    from portal.members import services as accounts
    from portal.uow import unit_of_work

    app = create_app({"PASSWORD_HASH_PARAMS": {"time_cost": 1, "memory_cost": 8, "parallelism": 1}})
    emails = [f"bench{n:04d}@example.org" for n in range(members)]
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(Event)):
            sys.exit("the database already has events: give the bench an empty one")
        with unit_of_work():
            for n, address in enumerate(emails):
                accounts.register_member(email=address, password=PASSWORD, name=f"Bench Member {n}", consent=True,
                                         sector="advocate")
        links = {}
        for path in Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            body = message.get_body(preferencelist=("plain",)).get_content()
            links[message["To"].lower()] = re.search(r"https?://\S+/verify/(\S+)", body).group(1)
            path.unlink()  # the registrations' mail is what the outbox should hold afterwards
        with unit_of_work():
            for address in emails:
                accounts.verify_email(links[address])
        start = (utcnow() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
        with unit_of_work():
            series, _ = events.save_series(slug="bench-series", title="Bench series", summary="Synthetic sessions.")
            events.create_event(actor=None, slug=EVENT_SLUG, title="Registration burst", starts_at=start,
                                ends_at=start + timedelta(hours=1), timezone="America/Chicago", capacity=seats,
                                join_url="https://meet.example.org/j/bench", series="bench-series",
                                description="The event everyone registers for at once.")
        # The feed's other events: past and upcoming, a few hours apart, with descriptions of a usual length.
        for batch in range(0, event_count - 1, 100):
            with unit_of_work():
                for n in range(batch, min(batch + 100, event_count - 1)):
                    when = start + timedelta(hours=7 * (n - event_count // 2))
                    events.create_event(
                        actor=None, slug=f"bench-event-{n:04d}", title=f"Alternative response session {n}",
                        starts_at=when, ends_at=when + timedelta(minutes=90), timezone="America/Denver",
                        series="bench-series" if n % 3 == 0 else "", capacity=200 if n % 2 else None,
                        join_url=f"https://meet.example.org/j/bench-{n}", topics=["dispatch", "crisis response"],
                        speakers=[{"name": f"Speaker {n}", "title": "Program lead", "organisation": "Bench County"}],
                        description="Practitioners compare how their call-takers route behavioral-health calls "
                                    "to non-police responders, and what the first year of data showed. " * 3)
    return {"emails": emails, "slug": EVENT_SLUG}


def counts() -> dict:
    """Where the burst left the event: registrations by status and the seat count on the event row."""
    from sqlalchemy import func, select

    from portal import create_app
    from portal.events import services as events
    from portal.events.models import Registration
    from portal.extensions import db

    with create_app().app_context():
        event = events.get_event(EVENT_SLUG)
        by_status = dict(db.session.execute(select(Registration.status, func.count()).where(
            Registration.event_id == event.id).group_by(Registration.status)).all())
        return {"by_status": by_status, "registered_count": event.registered_count, "capacity": event.capacity}


def in_instance(env: dict, step: str, *args) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--step", step, *map(str, args)]
    out = bench_site.run(command, cwd=ROOT, env=env, timeout=1800)
    return json.loads(out.strip().splitlines()[-1])


# --- HTTP, with nothing but http.client --------------------------------------------------------------------

class Browser:
    """One member's cookie jar and address, on a fresh connection per request (gunicorn's sync workers close
    each connection after answering)."""

    def __init__(self, port: int, address: str):
        self.port, self.address, self.cookies = port, address, {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, bytes]:
        headers = {"X-Forwarded-For": self.address, "Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        for header in answer.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return answer.status, answer.headers, data

    def csrf(self, path: str) -> str:
        status, _, body = self.request("GET", path)
        match = re.search(rb'<meta name="csrf-token" content="([^"]+)"', body)
        if status != 200 or not match:
            raise RuntimeError(f"no CSRF token on {path} (status {status})")
        return match.group(1).decode()

    def sign_in(self, email: str) -> None:
        token = self.csrf("/login")
        status, _, _ = self.request("POST", "/login", {"email": email, "password": PASSWORD, "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"signing in {email} answered {status}")


def burst(calls: list) -> tuple[list[float], list[str]]:
    """Release every call at once; each one's time in ms (None if it failed) and the errors."""
    barrier = threading.Barrier(len(calls))
    times, errors = [None] * len(calls), []

    def run(index):
        barrier.wait(timeout=60)
        started = time.perf_counter()
        try:
            problem = calls[index]()
        except Exception as exc:  # noqa: BLE001 (counted and printed: that is the bench's job)
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            errors.append(problem)
        else:
            times[index] = (time.perf_counter() - started) * 1000

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [t for t in times if t is not None], errors


def revalidating(url: str, duration: int) -> dict | None:
    """wrk as a subscribed calendar asks again: with the ETag it was given (If-None-Match), so 304s. The ETag
    is read right before: it also changes once a minute (portal/http_cache_validators.py), and a stale one
    gets the whole feed again."""
    etag = bench_site.probe(url, requests=1)["etag"]
    if not etag:
        return None
    command = ["wrk", "--threads", "2", "--connections", str(bench_site.CONNECTIONS), "--duration", f"{duration}s",
               "--timeout", "5s", "--latency", "--header", f"If-None-Match: {etag}", url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    found = {p: bench_site._ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rate, "p50_ms": found.get("50"), "p99_ms": found.get("99"),
            "non_2xx_3xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered), "p99_ms": p99, "max_ms": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--events", type=int, default=500, help="events in the feed, the burst's one included")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk on /events.ics")
    parser.add_argument("--label", default="current", help="names the results file")
    parser.add_argument("--keep", action="store_true", help="keep the temp instance")
    parser.add_argument("--step", choices=("setup", "counts"), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.step == "setup":
        print(json.dumps(setup(*options.args)))
        return
    if options.step == "counts":
        print(json.dumps(counts()))
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (make system-deps)")

    temp = Path(tempfile.mkdtemp(prefix="portal-bench-events-"))
    port, bare_port = bench_site.free_port(), bench_site.free_port()
    env = {**os.environ, "PORTAL_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
           "PORTAL_INSTANCE_PATH": str(temp / "instance"), "SITE_URL": f"http://127.0.0.1:{port}",
           "PROXY_COUNT": "1", "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("REDIS_URL", "SEARCH_INDEX_DIR", "UPLOAD_DIR", "MAIL_SERVER", "MAIL_OUTBOX_DIR"):
        env.pop(name, None)
    database = (env.get("DATABASE_URL") or "sqlite").split(":", 1)[0]
    servers = []
    try:
        print(f"building the instance in {temp} ({database}) ...", file=sys.stderr)
        bench_site.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env)
        made = in_instance(env, "setup", options.members, options.seats, options.events)
        (temp / "bare").mkdir()
        (temp / "bare" / "bare_app.py").write_text(bench_site.BARE_APP)
        log = open(temp / "gunicorn.log", "w")  # noqa: SIM115 (closed with the servers below)
        servers.append(bench_site.start_gunicorn("app:app", ROOT, env, port, log))
        servers.append(bench_site.start_gunicorn("bare_app:app", temp / "bare", env, bare_port, log))
        bench_site.wait_ready(f"http://127.0.0.1:{port}/healthz", servers[0])
        bench_site.wait_ready(f"http://127.0.0.1:{bare_port}/", servers[1])

        print(f"signing in {len(made['emails'])} members ...", file=sys.stderr)
        browsers = [Browser(port, f"10.{n // 250}.{n % 250}.{1 + n % 7}") for n in range(len(made["emails"]))]
        detail = f"/events/{made['slug']}"
        tokens = [None] * len(browsers)

        def prepare(index):
            browsers[index].sign_in(made["emails"][index])
            tokens[index] = browsers[index].csrf(detail)  # signing in gives the session a new token

        for start in range(0, len(browsers), 8):  # a few at a time: the set-up is not what is measured
            group = [threading.Thread(target=prepare, args=(i,)) for i in range(start, min(start + 8, len(browsers)))]
            for thread in group:
                thread.start()
            for thread in group:
                thread.join()
        if None in tokens:
            sys.exit("some members could not sign in (see above)")

        def healthz(index):
            def call():
                status, _, _ = browsers[index].request("GET", "/healthz")
                return None if status == 200 else f"/healthz answered {status}"
            return call

        def register(index):
            def call():
                status, _, body = browsers[index].request("POST", f"{detail}/register",
                                                                {"csrf_token": tokens[index]})
                return None if status in (302, 303) else f"register answered {status}: {body[:200]!r}"
            return call

        print(f"{len(browsers)} requests at once: /healthz, then POST {detail}/register", file=sys.stderr)
        reference_times, reference_errors = burst([healthz(i) for i in range(len(browsers))])
        times, errors = burst([register(i) for i in range(len(browsers))])
        seats = in_instance(env, "counts")
        registration = {
            "requests": len(browsers), **percentiles(times), "errors": len(errors), "error_samples": errors[:5],
            "reference": {"path": "/healthz", **percentiles(reference_times), "errors": len(reference_errors)},
            **seats,
        }
        registration["ratio_p50"] = (registration["p50_ms"] / registration["reference"]["p50_ms"]
                                     if times and reference_times else None)
        expected_seated = min(options.seats, options.members)
        registration["meets"] = (not errors and seats["registered_count"] == expected_seated
                                 and seats["by_status"].get("registered", 0) == expected_seated
                                 and seats["by_status"].get("waitlisted", 0) == options.members - expected_seated)

        print(f"wrk on /events.ics ({options.events} events), {options.duration} s", file=sys.stderr)
        feed_url = f"http://127.0.0.1:{port}/events.ics"
        seen = bench_site.probe(feed_url)
        reference = bench_site.wrk(f"http://127.0.0.1:{bare_port}/", max(2, options.duration // 2))
        measured = bench_site.wrk(feed_url, options.duration)
        feed = {"path": "/events.ics", "events": options.events, **seen, **measured, "bare_rps": reference["rps"],
                "bare_p99_ms": reference["p99_ms"], "ratio": measured["rps"] / reference["rps"]}
        again = revalidating(feed_url, max(2, options.duration // 2))
        if again:
            feed["revalidated"] = {**again, "ratio": again["rps"] / reference["rps"]}
        report(registration, feed)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"events-{options.label}.json"
        out.write_text(json.dumps({
            "label": options.label, "when": datetime.now(timezone.utc).isoformat(), "database": database,
            "workers": bench_site.WORKERS, "load_average": os.getloadavg(), "registration": registration,
            "feed": feed}, indent=2))
        print(f"\nwritten to {out}")
    finally:
        bench_site.stop_servers(servers)
        if not options.keep:
            shutil.rmtree(temp, ignore_errors=True)


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(registration: dict, feed: dict) -> None:
    ref = registration["reference"]
    print(f"\n{registration['requests']} registrations at once for {registration['capacity']} seats "
          f"({bench_site.WORKERS} gunicorn workers):")
    print("| requests | p50 ms | p99 ms | max ms | /healthz burst p50 / p99 ms | p50 ratio to /healthz | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratio = "-" if registration["ratio_p50"] is None else f"{registration['ratio_p50']:.1f}"
    print(f"| {registration['requests']} | {_ms(registration['p50_ms'])} | {_ms(registration['p99_ms'])} | "
          f"{_ms(registration['max_ms'])} | {_ms(ref['p50_ms'])} / {_ms(ref['p99_ms'])} | {ratio} | "
          f"{registration['errors']} |")
    by_status = registration["by_status"]
    print(f"registered {by_status.get('registered', 0)}, waitlisted {by_status.get('waitlisted', 0)}, "
          f"cancelled {by_status.get('cancelled', 0)}; seat count on the event {registration['registered_count']}; "
          f"{'as expected' if registration['meets'] else 'NOT as expected'}")
    for sample in registration["error_samples"]:
        print(f"  error: {sample}")
    print(f"\n/events.ics with {feed['events']} events (wrk, {bench_site.CONNECTIONS} connections):")
    print("| req/s | bare req/s | ratio to bare | p50 ms | p99 ms | bare p99 ms | bytes | status | non-2xx |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    print(f"| {feed['rps']:.0f} | {feed['bare_rps']:.0f} | {feed['ratio']:.3f} | {feed['p50_ms']:.1f} | "
          f"{feed['p99_ms']:.1f} | {feed['bare_p99_ms']:.1f} | {feed['bytes']} | {feed['status']} | "
          f"{feed['non_2xx']} |")
    again = feed.get("revalidated")
    if again:
        print(f"asked again with its ETag (If-None-Match, as a subscribed calendar does): {again['rps']:.0f} req/s, "
              f"ratio to bare {again['ratio']:.3f}, p50 {_ms(again['p50_ms'])} ms, p99 {_ms(again['p99_ms'])} ms, "
              f"{again['non_2xx_3xx']} answers other than 2xx/3xx, {again['socket_errors']} socket errors or timeouts")
    else:
        print("the feed carries no ETag: every request renders it")


if __name__ == "__main__":
    main()
