"""Call-type analysis benchmark: the whole analysis of synthetic CAD extracts against DuckDB's bare group-by on the
same file, in the same run.

For each size (100,000, 1,000,000 and 5,000,000 rows by default) it writes a seeded synthetic extract with the
columns cities export: an incident number, the call type (about 300 names, most from content/call_types.yaml,
some local ones no table knows, with a long tail), the received time in three formats (ISO 8601,
MM/DD/YYYY hh:mm:ss AM, epoch seconds), priority, disposition, unit type, a free-text address and a narrative
(commas, quotes, now and then a line break inside quotes), and bad rows: about 0.1% without a call type, 0.1%
with an unreadable time, and a few with too many fields.

Then, each in a fresh child process (so that one's memory does not count in the next):

- the analysis, as the worker runs it: inspect the file, queue it with the proposed mapping, run the job (read
  and aggregate with DuckDB, find the examples, store the aggregate in SQLite, delete the file), and compute
  the results (classify the distinct call types). Its rows per second of wall time, and its peak memory above
  the process's idle size (the app made, DuckDB imported, before the job), sampled every 5 ms. The process
  first analyses the file's first 200 lines, as a worker that has run a job before (its classification table
  read, its SQL compiled): what is measured is the steady state, not a cold start;
- the reference: DuckDB's bare read_csv + GROUP BY call_type, hour on the same file, with the same threads.

Targets (the issue):
- at 1,000,000 rows, at least 1,000,000 rows per second, and at least 0.5 of the reference's rate;
- peak memory of the analysis at most 150 MB above idle at every size, and 5M rows within 1.25x of 1M rows.

Usage:
    .venv/bin/python bench/calls.py [--sizes 100000,1000000,5000000] [--seed 7] [--keep DIR]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOCAL_TYPES = 40          # call types no table knows ("ZZ LOCAL 1"...)
TARGET_RATE = 1_000_000
TARGET_RATIO = 0.5
TARGET_MEMORY_MB = 150
TARGET_GROWTH = 1.25


def call_type_names(count: int = 260) -> list[str]:
    """Names as the default table writes them, upper-cased as CAD exports do, plus local ones."""
    import yaml

    data = yaml.safe_load((ROOT / "content" / "call_types.yaml").read_text(encoding="utf-8"))
    names = [str(name).upper() for category in data["categories"] for name in category.get("names") or ()]
    step = max(1, len(names) // count)
    return names[::step][:count] + [f"ZZ LOCAL {n}" for n in range(LOCAL_TYPES)]


def generate(path: Path, rows: int, seed: int) -> None:
    """A seeded extract written by DuckDB (fast and deterministic: every value is a hash of the row number)."""
    import duckdb

    types = call_type_names()
    connection = duckdb.connect(config={"threads": 2})
    connection.execute("CREATE TABLE types AS SELECT unnest(?) AS name, generate_subscripts(?, 1) AS k",
                       [types, types])
    h = lambda salt: f"(hash(i * 2654435761 + {seed * 1000 + salt}) % 1000000007)::BIGINT"  # noqa: E731
    connection.execute(f"""
        COPY (
          WITH r AS (SELECT i, {h(1)} AS h1, {h(2)} AS h2, {h(3)} AS h3, {h(4)} AS h4 FROM range({rows}) t(i))
          SELECT 'E' || lpad(i::VARCHAR, 9, '0') AS "Incident Number",
            CASE WHEN h4 % 1000 = 0 THEN '' ELSE
              (SELECT name FROM types WHERE k = 1 + floor(pow((h2 % 100000) / 100000.0, 3) * {len(types)})::INT)
            END AS "Initial Call Type",
            CASE WHEN h4 % 1000 = 1 THEN 'N/A'
                 WHEN h3 % 3 = 0 THEN strftime(TIMESTAMP '2025-01-01' + to_seconds(h1 % 31536000), '%Y-%m-%dT%H:%M:%S')
                 WHEN h3 % 3 = 1 THEN strftime(TIMESTAMP '2025-01-01' + to_seconds(h1 % 31536000), '%m/%d/%Y %I:%M:%S %p')
                 ELSE (1735689600 + h1 % 31536000)::VARCHAR END AS "Received Time",
            (1 + h2 % 5)::VARCHAR AS "Priority",
            ['Advised', 'Report taken', 'Gone on arrival', 'Arrest', 'Referred', 'Cancelled', 'Cleared',
             'Transported', 'No action', 'Duplicate'][1 + h3 % 10] AS "Disposition",
            ['PATROL', 'PATROL', 'PATROL', 'CRISIS TEAM', 'EMS', 'FIRE', 'PATROL', 'CAHOOTS VAN'][1 + h1 % 8]
              AS "Unit Type",
            (h1 % 9999)::VARCHAR || ' ' || ['N', 'S', 'E', 'W'][1 + h2 % 4] || ' '
              || ['MAIN', 'OAK', 'RIVER', 'PARK', '1ST', 'BROADWAY'][1 + h3 % 6] || ' ST, APT ' || (h4 % 40)::VARCHAR
              AS "Address",
            'RP states ' || ['a man, about 40,', 'a "neighbor"', 'someone', 'her son'][1 + h4 % 4]
              || ' is ' || ['yelling', 'asleep in a doorway', 'not answering the door', 'blocking traffic'][1 + h1 % 4]
              || CASE WHEN h2 % 500 = 0 THEN chr(10) || 'update: caller called back' ELSE '' END
              || ' #' || (h3 % 100000)::VARCHAR AS "Narrative"
          FROM r
        ) TO '{path}' (HEADER, DELIMITER ',', QUOTE '"')""")
    connection.close()
    with open(path, "a", encoding="utf-8") as handle:  # a few ragged rows (too many fields)
        for n in range(5):
            handle.write(f"X{n},NOISE COMPLAINT,2025-06-01T10:00:00,3,Advised,PATROL,1 MAIN ST,x,extra field\n")


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakSampler:
    """The process's resident size, sampled every 5 ms while a block runs."""

    def __init__(self):
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            self._stop.wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def child_analysis(path: Path, work: Path) -> dict:
    """In this (child) process: the analysis as the worker runs it, on a copy of the file under CALLS_DIR."""
    import shutil

    from portal import create_app, uow
    from portal.calls import services
    from portal.calls.tasks import run_analysis
    from portal.extensions import db
    from portal.calls.models import CallAnalysis
    from portal.jurisdictions.services import get_jurisdiction, save_jurisdiction

    instance = work / "instance"
    app = create_app({"PORTAL_INSTANCE_PATH": instance, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'bench.db'}",
                      "SEARCH_INDEX_DIR": str(work / "search"), "QUEUE_IMMEDIATE": False,
                      "SITE_URL": "https://portal.example.org"})
    with app.app_context():
        db.create_all()
        with uow.unit_of_work():
            jurisdiction, _ = save_jurisdiction(slug="benchville", name="Benchville", state="Ohio")

        def analyse(source: Path):
            token, target = services.new_upload_path()
            shutil.copyfile(source, target)  # what the upload route streams to disk; not timed
            started = time.perf_counter()
            with uow.unit_of_work():
                jurisdiction = get_jurisdiction("benchville")
                analysis = services.start_analysis(jurisdiction, actor=None, token=token, filename=source.name)
                services.queue_analysis(analysis, actor=None, mapping=dict(analysis.mapping))
                number = analysis.id
            run_analysis(number)
            analysis = db.session.get(CallAnalysis, number)
            results = services.results_of(analysis)
            seconds = time.perf_counter() - started
            assert analysis.status == "done", analysis.error
            assert not target.exists(), "the job left its file"
            return results, seconds

        # A worker that has run one job: its classification table read, its queries compiled.
        warm = work / "warm.csv"
        with open(path, encoding="utf-8") as whole, open(warm, "w", encoding="utf-8") as head:
            head.writelines(line for _, line in zip(range(200), whole))
        analyse(warm)
        idle = _rss_mb()
        with PeakSampler() as sampler:
            results, seconds = analyse(path)
    return {"rows": results.rows, "calls": results.calls, "unreadable": results.unreadable,
            "call_types": len(results.call_types), "alternative_share": results.alternative_share,
            "coverage": results.coverage, "seconds": seconds, "idle_mb": idle, "peak_mb": sampler.peak,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_reference(path: Path) -> dict:
    """In this (child) process: DuckDB's bare read_csv + GROUP BY call_type, hour, with the analysis's threads."""
    import duckdb

    connection = duckdb.connect(config={"threads": 2})
    idle = _rss_mb()
    with PeakSampler() as sampler:
        started = time.perf_counter()
        groups = connection.execute(
            f"SELECT \"Initial Call Type\", hour(try_cast(\"Received Time\" AS TIMESTAMP)) AS h, count(*) "
            f"FROM read_csv('{path}', all_varchar = true, ignore_errors = true) GROUP BY ALL").fetchall()
        seconds = time.perf_counter() - started
    rows = sum(group[2] for group in groups)
    return {"rows": rows, "groups": len(groups), "seconds": seconds, "idle_mb": idle, "peak_mb": sampler.peak}


def in_child(kind: str, path: Path, work: Path) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(work)], check=True,
                            capture_output=True, text=True, cwd=ROOT)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the extracts here and keep them")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "FILE", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, work = args.child
        result = child_analysis(Path(path), Path(work)) if kind == "analysis" else child_reference(Path(path))
        print(json.dumps(result))
        return 0

    folder = args.keep or Path(tempfile.mkdtemp(prefix="calls-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [int(size) for size in args.sizes.split(",")]
    rows_out, ok = [], True
    for size in sizes:
        path = folder / f"cad-{size}.csv"
        started = time.perf_counter()
        generate(path, size, args.seed)
        made = time.perf_counter() - started
        work = Path(tempfile.mkdtemp(prefix="calls-bench-work-", dir=folder))
        reference = in_child("reference", path, work)
        analysis = in_child("analysis", path, work)
        rate = analysis["rows"] / analysis["seconds"]
        bare_rate = reference["rows"] / reference["seconds"]
        memory = analysis["peak_mb"] - analysis["idle_mb"]
        rows_out.append({"size": size, "file_mb": path.stat().st_size / 2**20, "generated_s": made,
                         "rate": rate, "bare_rate": bare_rate, "ratio": rate / bare_rate, "memory_mb": memory,
                         "bare_memory_mb": reference["peak_mb"] - reference["idle_mb"], **analysis})
        if not args.keep:
            path.unlink(missing_ok=True)
    print(f"{'rows':>10} {'file MB':>8} {'analysis rows/s':>16} {'bare rows/s':>12} {'ratio':>6} "
          f"{'peak MB above idle':>19} {'bare peak MB':>12} {'unreadable':>10} {'types':>6} {'coverage':>8}")
    for row in rows_out:
        print(f"{row['size']:>10,} {row['file_mb']:>8.0f} {row['rate']:>16,.0f} {row['bare_rate']:>12,.0f} "
              f"{row['ratio']:>6.2f} {row['memory_mb']:>19.0f} {row['bare_memory_mb']:>12.0f} "
              f"{row['unreadable']:>10,} {row['call_types']:>6} {row['coverage']:>8.1%}")
    by_size = {row["size"]: row for row in rows_out}
    if 1_000_000 in by_size:
        one = by_size[1_000_000]
        for label, good in ((f"1M rows: {one['rate']:,.0f} rows/s >= {TARGET_RATE:,}", one["rate"] >= TARGET_RATE),
                            (f"1M rows: {one['ratio']:.2f} of the bare group-by >= {TARGET_RATIO}",
                             one["ratio"] >= TARGET_RATIO)):
            print(("met:    " if good else "MISSED: ") + label)
            ok &= good
    for row in rows_out:
        good = row["memory_mb"] <= TARGET_MEMORY_MB
        print(("met:    " if good else "MISSED: ") + f"{row['size']:,} rows: {row['memory_mb']:.0f} MB above idle "
              f"<= {TARGET_MEMORY_MB} MB")
        ok &= good
    if 1_000_000 in by_size and 5_000_000 in by_size:
        growth = by_size[5_000_000]["memory_mb"] / max(1.0, by_size[1_000_000]["memory_mb"])
        good = growth <= TARGET_GROWTH
        print(("met:    " if good else "MISSED: ") + f"5M rows use {growth:.2f}x the memory of 1M <= {TARGET_GROWTH}x")
        ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
