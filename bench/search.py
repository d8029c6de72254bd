"""Search benchmark for the resource library (issue 3), with SQLite FTS5 as the reference.

For each library size it builds a synthetic corpus (~17 KB of text per resource), loads it
into a fresh SQLite database, runs `search.rebuild()` (what `flask search rebuild` runs) and
measures, for a fixed query mix (common term, rare term, two terms, phrase; each with and
without a facet filter):

- p50/p99 of the search call alone (portal.search.search of library resources, snippets on, no result cache);
- p50/p99 of the whole `GET /resources?q=...` request through the Flask app;
- the index build rate, and publish -> found-by-search latency;
- the worst CPU time of a set of hostile queries;
- SQLite FTS5 (porter tokenizer, bm25, snippet()) p50/p99 on the same corpus and queries.

Usage: .venv/bin/python bench/search.py [--sizes 1000 10000 50000] [--reps 40]
Results are printed as a Markdown table and written to bench/results/search-<size>.json.
"""
import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {  # size: (search p99 ms, request p99 ms or None)
    1000: (10, 25),
    10000: (40, 60),
    50000: (200, None),
}
TYPES = ["toolkit", "program_model", "policy", "research", "overview", "guide", "dataset"]
AUDIENCES = ["journalists", "advocates", "officials", "practitioners", "researchers"]
TOPICS = ["mental health", "dispatch", "911 data", "community safety", "traffic", "code enforcement",
          "homelessness", "youth", "opioids", "evaluation", "funding", "training", "peer support", "policy"]
DOMAIN = ("crisis responder dispatch emergency police behavioral health mental clinician paramedic call "
          "community safety welfare check program model policy diversion alternative response city county "
          "jurisdiction data evaluation training funding outreach peer counselor traffic crash noise complaint "
          "code violation housing homelessness substance intoxication trespass youth school shelter hospital "
          "triage protocol staffing shift budget council ordinance report analysis survey gap asset").split()


def _words(rng: random.Random, count: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    seen = set(DOMAIN)
    words = []
    while len(words) < count:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(4, 10)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


STOPS = ("the of and to a in is that for it as was with be by on not he this are or his from at which but have "
         "an they you were her she there their one all we can has been if more when will would who so no").split()
PHRASES = ["mental health", "behavioral health", "crisis responder", "community safety", "call triage",
           "peer counselor", "code violation", "traffic crash"]


class Corpus:
    """Deterministic synthetic text shaped like English: stop words take the top Zipf ranks (analyzers drop
    them), domain words sit at common-but-plausible ranks (a few times per document), a long tail of rare
    words follows, and real two-word phrases recur. Paragraphs are reused across documents."""

    def __init__(self, seed: int = 12):
        self.rng = random.Random(seed)
        pseudo = _words(self.rng, 30000)
        # Ranks: stop words, 60 filler words, the domain words, then the rest.
        vocabulary = STOPS + pseudo[:60] + DOMAIN + pseudo[60:]
        weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(vocabulary))]
        self.vocabulary = vocabulary
        self.paragraphs = []
        for _ in range(6000):
            words = self.rng.choices(vocabulary, weights=weights, k=110)
            if self.rng.random() < 0.3:
                words.insert(self.rng.randrange(len(words)), self.rng.choice(PHRASES))
            self.paragraphs.append(" ".join(words) + ".")
        self.tail = pseudo[15000:]  # words that appear in about one document in a hundred or fewer

    def document(self, n: int) -> dict:
        rng = random.Random(n)
        body = "\n\n".join(rng.choice(self.paragraphs) for _ in range(27))
        extra = " ".join(rng.choice(self.tail) for _ in range(10))
        return {
            "slug": f"bench-resource-{n}",
            "title": f"{rng.choice(DOMAIN).title()} {rng.choice(DOMAIN)} {rng.choice(self.tail)} guide {n}",
            "summary": " ".join(rng.choice(self.vocabulary[100:3000]) for _ in range(40)),
            "body": f"{body}\n\n{extra} marker{n}",
            "type": rng.choice(TYPES),
            "audiences": rng.sample(AUDIENCES, rng.randint(1, 3)),
            "topics": rng.sample(TOPICS, rng.randint(1, 3)),
            "access": "members" if n % 10 == 0 else "public",
        }


QUERY_MIX = {
    "common term": ["crisis", "dispatch", "police", "health", "call", "community"],  # in most documents
    "rare term": [],  # filled from the corpus tail
    "two terms": ["mental health", "crisis dispatch", "police training", "community outreach", "call triage"],
    "phrase": ['"behavioral health"', '"mental health"', '"crisis responder"', '"community safety"'],
}


def percentile(values, pct):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def build_app(workdir: Path):
    from portal import create_app
    from portal.extensions import db

    app = create_app({
        "PORTAL_INSTANCE_PATH": workdir / "instance",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}",
        "SEARCH_INDEX_DIR": str(workdir / "search"),
        "UPLOAD_DIR": str(workdir / "uploads"),
        "MAIL_OUTBOX_DIR": str(workdir / "outbox"),
    })
    with app.app_context():
        db.create_all()
    return app


def load_rows(app, corpus: Corpus, size: int) -> float:
    from sqlalchemy import insert

    from portal.extensions import db
    from portal.jurisdictions.models import Jurisdiction
    from portal.library.models import Resource

    start = time.perf_counter()
    base = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with app.app_context():
        db.session.execute(insert(Jurisdiction), [
            {"slug": s, "name": s.title(), "state": "", "summary": ""}
            for s in ("minneapolis", "denver", "tucson", "chicago", "san-francisco")])
        now = datetime.now(timezone.utc)
        for chunk_start in range(0, size, 1000):
            rows = []
            for n in range(chunk_start, min(size, chunk_start + 1000)):
                doc = corpus.document(n)
                rows.append({**doc, "status": "published", "jurisdiction_id": n % 6 or None,
                             "published_at": base + timedelta(hours=n), "created_at": now, "updated_at": now,
                             "external_url": "", "author": "", "is_featured": False})
            db.session.execute(insert(Resource), rows)
        db.session.commit()
    return time.perf_counter() - start


def time_calls(function, queries, reps):
    samples = []
    for i in range(reps):
        for query in queries:
            start = time.perf_counter()
            function(query, i)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def run_fts5(workdir: Path, corpus: Corpus, size: int, mixes: dict, reps: int) -> dict:
    connection = sqlite3.connect(workdir / "fts.db")
    connection.execute("CREATE VIRTUAL TABLE docs USING fts5(title, summary, body, type UNINDEXED, "
                       "tokenize='porter unicode61')")
    start = time.perf_counter()
    for chunk_start in range(0, size, 1000):
        rows = [(d["title"], d["summary"], d["body"], d["type"])
                for d in (corpus.document(n) for n in range(chunk_start, min(size, chunk_start + 1000)))]
        connection.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
    connection.commit()
    build_rate = size / (time.perf_counter() - start)
    results = {"build_rate": build_rate}
    sql = ("SELECT rowid, snippet(docs, 2, '<mark>', '</mark>', '…', 20) FROM docs WHERE docs MATCH ? {} "
           "ORDER BY bm25(docs, 3.0, 2.0, 1.0) LIMIT 20")
    counts = "SELECT count(*) FROM docs WHERE docs MATCH ? {}"
    for label, queries in mixes.items():
        for facet in (False, True):
            where = "AND type = 'policy'" if facet else ""

            def call(query, i, where=where):
                connection.execute(sql.format(where), (query,)).fetchall()
                connection.execute(counts.format(where), (query,)).fetchone()

            samples = time_calls(call, queries, reps)
            results[f"{label}{' + facet' if facet else ''}"] = (percentile(samples, 50), percentile(samples, 99))
    connection.close()
    return results


def bench_size(size: int, reps: int, corpus: Corpus) -> dict:
    from portal import search, uow
    from portal.library import services
    from portal.library.search_docs import KIND
    from portal.extensions import db
    from portal.members.models import Member

    def find(q, filters=None, reads_restricted=False):
        return search.search(search.SearchRequest(kind=KIND, q=q, filters=filters or {},
                                                  reads_restricted=reads_restricted))

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-search-{size}-"))
    app = build_app(workdir)
    out = {"size": size}
    print(f"\n== {size} resources ({workdir})", flush=True)
    out["load_rows_s"] = load_rows(app, corpus, size)
    print(f"rows loaded in {out['load_rows_s']:.1f}s", flush=True)

    with app.app_context():
        start = time.perf_counter()
        count = search.rebuild()
        out["rebuild_s"] = time.perf_counter() - start
        out["rebuild_rate"] = count / out["rebuild_s"]
        print(f"rebuild: {count} in {out['rebuild_s']:.1f}s = {out['rebuild_rate']:.0f}/s", flush=True)
        index_bytes = sum(p.stat().st_size for p in Path(app.config["SEARCH_INDEX_DIR"]).iterdir())
        out["index_mb"] = index_bytes / 1e6

        mixes = dict(QUERY_MIX)
        mixes["rare term"] = corpus.tail[5000:5006]
        find("warm up")  # opens the per-process searcher once, as a running server has

        # The search call alone, snippets on: anonymous (restricted) and member views alternate.
        calls = {}
        for label, queries in mixes.items():
            for facet in (False, True):
                def call(query, i, facet=facet):
                    find(query, {"type": ["policy"]} if facet else None, reads_restricted=bool(i % 2))

                samples = time_calls(call, queries, reps)
                calls[f"{label}{' + facet' if facet else ''}"] = (percentile(samples, 50), percentile(samples, 99))
        out["search_call"] = calls
        all_samples = []

        # Publish -> found by search, through the service (commit, index update, searcher refresh).
        staff = Member(email="bench@example.org", name="Bench", password_hash="x", role="staff")
        db.session.add(staff)
        db.session.commit()
        latencies = []
        for attempt in range(10):
            with uow.unit_of_work():
                draft = services.create_resource(actor=staff, title=f"Freshly published {attempt}",
                                                 type="policy", body=f"uniqueword{attempt}x appears here")
            start = time.perf_counter()
            with uow.unit_of_work():  # the index is updated once the unit commits
                services.change_status(draft, action="publish", actor=staff,
                                       publish_at=datetime.now(timezone.utc) - timedelta(seconds=1))
            while draft.id not in find(f"uniqueword{attempt}x").ids:
                if time.perf_counter() - start > 5:
                    break
            latencies.append((time.perf_counter() - start) * 1000)
        out["publish_to_found_ms"] = (percentile(latencies, 50), max(latencies))

        # Hostile queries: the worst CPU time of any.
        hostile = ["a" * 100000, "(" * 5000 + "crisis", " OR ".join(DOMAIN[:60]), "*", '"' * 300,
                   " ".join(DOMAIN), "crisis AND NOT police OR (health AND (call OR data))" * 5,
                   "".join(chr(0x4E00 + i) for i in range(300)), "content:secret title:x^99",
                   '"crisis responder"~100000', '"police call" ~99999 OR "health crisis"~99999',
                   "crisis* dispatch? [a TO z] police~3", "-".join(DOMAIN[:30]),
                   "crisis ANDNOT police ANDMAYBE health"]
        cpu = []
        for query in hostile:
            start = time.process_time()
            find(query, {"type": ["policy"]})
            cpu.append((time.process_time() - start) * 1000)
        out["hostile_cpu_ms_max"] = max(cpu)

    # The whole request through Flask (routing, session, search, rows, template).
    client = app.test_client()
    requests = {}
    for label, queries in mixes.items():
        for facet in (False, True):
            def get(query, i, facet=facet):
                response = client.get("/resources", query_string={"q": query, **({"type": "policy"} if facet else {})})
                assert response.status_code == 200, response.status_code

            samples = time_calls(get, queries, max(5, reps // 2))
            all_samples += samples
            requests[f"{label}{' + facet' if facet else ''}"] = (percentile(samples, 50), percentile(samples, 99))
    out["request"] = requests
    out["request_all"] = (percentile(all_samples, 50), percentile(all_samples, 99))
    out["fts5"] = run_fts5(workdir, corpus, size, mixes, reps)
    out["workdir"] = str(workdir)
    return out


def report(results: list[dict]) -> str:
    lines = []
    for r in results:
        size = r["size"]
        target_call, target_request = TARGETS.get(size, (None, None))
        worst_call = max(p99 for _, p99 in r["search_call"].values())
        worst_fts = max(v[1] for k, v in r["fts5"].items() if k != "build_rate")
        lines.append(f"\n### {size:,} resources\n")
        lines.append(f"index build: {r['rebuild_rate']:.0f} resources/s ({r['index_mb']:.0f} MB index); "
                     f"FTS5 build {r['fts5']['build_rate']:.0f}/s")
        lines.append(f"publish -> found: p50 {r['publish_to_found_ms'][0]:.0f} ms, max "
                     f"{r['publish_to_found_ms'][1]:.0f} ms; hostile query CPU max {r['hostile_cpu_ms_max']:.0f} ms")
        lines.append(f"whole request p50/p99 (all queries): {r['request_all'][0]:.1f} / {r['request_all'][1]:.1f} ms"
                     + (f" (target p99 <= {target_request} ms)" if target_request else ""))
        lines.append(f"search call worst p99: {worst_call:.1f} ms (target <= {target_call} ms); "
                     f"FTS5 worst p99: {worst_fts:.1f} ms; ratio {worst_call / worst_fts:.1f}x\n")
        lines.append("| query | search call p50 / p99 ms | whole request p50 / p99 ms | FTS5 p50 / p99 ms |")
        lines.append("|---|---|---|---|")
        for key, (p50, p99) in r["search_call"].items():
            rq = r["request"][key]
            fts = r["fts5"][key]
            lines.append(f"| {key} | {p50:.1f} / {p99:.1f} | {rq[0]:.1f} / {rq[1]:.1f} | {fts[0]:.1f} / {fts[1]:.1f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    corpus = Corpus()
    results = []
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    for size in args.sizes:
        result = bench_size(size, args.reps, corpus)
        results.append(result)
        (out_dir / f"search-{size}.json").write_text(json.dumps(result, indent=2))
        print(report([result]), flush=True)
    print("\n## Summary" + report(results))


if __name__ == "__main__":
    main()
