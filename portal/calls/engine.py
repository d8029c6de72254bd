"""The aggregate DuckDB's CSV reader computes from an extract's mapped columns only (no other column is read
into the results): counts by call type, hour and weekday, priority, disposition and unit type, and the
unreadable rows with up to 20 examples. Nothing here touches the database."""
import csv
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from portal.calls.aggregate import MAX_CALL_TYPES, MAX_EXAMPLES, OTHER_CALL_TYPES, Aggregate, capped
from portal.calls.files import MAX_VALUE_LENGTH, FileInfo, FileProblem, prepare
from portal.calls.mapping import FIELDS, check_mapping

# The time formats read, tried by what the value holds: a slash (US dates), a dash (ISO 8601), digits (epoch
# seconds, read as UTC). An ISO time's offset is dropped: the hour is the local hour the city wrote.
US_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                   "%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %I:%M:%S.%f %p", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                   "%m/%d/%y %H:%M", "%m/%d/%y %I:%M %p", "%m/%d/%Y")
REASONS = {
    "call_type": "no call type",
    "received_at": "a received time that could not be read",
    "ragged": "a different number of fields from the header",
}



def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


NO_CALL_TYPE_SQL = r"call_type IS NULL OR regexp_full_match(call_type, '\s*')"


def time_sql(column: str) -> str:
    """The SQL that reads a received time (VARCHAR) as a TIMESTAMP, NULL when it cannot be read."""
    formats = "[" + ", ".join(_literal(fmt) for fmt in US_TIME_FORMATS) + "]"
    return (f"CASE WHEN {column} IS NULL THEN NULL "
            f"WHEN contains({column}, '/') THEN try_strptime({column}, {formats}) "
            f"WHEN contains({column}, '-') THEN try_cast({column} AS TIMESTAMP) "
            f"WHEN regexp_full_match({column}, '[0-9]{{1,11}}([.][0-9]*)?') "
            f"THEN try_cast(make_timestamp(try_cast(try_cast({column} AS DOUBLE) * 1000000 AS BIGINT)) "
            f"AS TIMESTAMP) END")


# The spaces a value is trimmed of: RE2's \s in SQL, and these in Python. Values are grouped as written (trimming
# every row in SQL would cost more than the rest of the query) and cleaned once per distinct value afterwards.
WHITESPACE = " \t\n\f\r"


def clean_value(text: str) -> str:
    """A value as the aggregate keeps it: trimmed, at most MAX_VALUE_LENGTH characters."""
    return text.strip(WHITESPACE)[:MAX_VALUE_LENGTH]


def _rchar() -> int | None:
    """Bytes this process has read so far (Linux): DuckDB reads the file once, so this is how far it got."""
    try:
        with open("/proc/self/io", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class EngineSettings:
    threads: int = 2
    memory_limit: str = "100MB"
    temp_directory: str | None = None


def connect(settings: EngineSettings) -> duckdb.DuckDBPyConnection:
    config = {"threads": settings.threads, "memory_limit": settings.memory_limit,
              "preserve_insertion_order": False}
    if settings.temp_directory:
        Path(settings.temp_directory).mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = settings.temp_directory
    return duckdb.connect(":memory:", config=config)


def _source(path: Path, info: FileInfo) -> tuple[str, list]:
    return ("read_csv(?, delim = ?, quote = '\"', escape = '\"', header = true, names = ?, all_varchar = true, "
            "ignore_errors = true, store_rejects = true, null_padding = false, parallel = true)",
            [str(path), info.delimiter, info.header])


def aggregate_file(path: Path, info: FileInfo, mapping: dict[str, str], *, settings: EngineSettings,
                   progress: Callable[[float], None] | None = None) -> Aggregate:
    """Count the file's calls by call type, hour and weekday, priority, disposition and unit type, reading the
    mapped columns only; rows without a call type, with an unreadable time or with the wrong number of fields
    are counted as unreadable, and up to 20 of them are found again with their line numbers."""
    mapping = check_mapping(mapping, info.header)
    source, parameters = _source(path, info)
    selected = ", ".join(f"{_quote(column)} AS {name}" for name, column in mapping.items())
    received = "nullif(trim(received_at), '')" if "received_at" in mapping else "NULL::VARCHAR"
    margins = [name for name in ("priority", "disposition", "unit_type") if name in mapping]
    timed = "received_at" in mapping
    sets = ["()", "(call_type)"] + (["(h, d)"] if timed else []) + [f"({m})" for m in margins]
    columns = ["call_type"] + (["h", "d"] if timed else []) + margins
    keys = grouping = ", ".join(columns)
    query = f"""
        WITH src AS (SELECT {selected} FROM {source}),
        timed AS (SELECT *, {time_sql(received)} AS t FROM src),
        checked AS (
            SELECT *, hour(t) AS h, isodow(t) - 1 AS d,
                   CASE WHEN {NO_CALL_TYPE_SQL} THEN 'call_type'
                        WHEN {received} IS NOT NULL AND t IS NULL THEN 'received_at' END AS problem
            FROM timed)
        SELECT grouping({grouping}) AS g, {keys},
               count(*) FILTER (WHERE problem IS NULL) AS calls,
               count(*) FILTER (WHERE problem = 'call_type') AS no_type,
               count(*) FILTER (WHERE problem = 'received_at') AS bad_time,
               min(t) FILTER (WHERE problem IS NULL) AS first, max(t) FILTER (WHERE problem IS NULL) AS last
        FROM checked GROUP BY GROUPING SETS ({", ".join(sets)})"""
    connection = connect(settings)
    try:
        rows = _run_with_progress(connection, query, parameters, path, progress)
        ragged = connection.execute("SELECT count(DISTINCT (file_id, line)) FROM reject_errors").fetchone()[0]
        aggregate = _aggregate_of(rows, columns, ragged=int(ragged))
        aggregate.mapped = tuple(name for name in FIELDS if name in mapping)
        if aggregate.unreadable_rows:
            aggregate.examples = _find_examples(path, info, mapping, connection)
    except duckdb.OutOfMemoryException:
        raise  # not the file's fault: the job says so in its own words
    except duckdb.Error as error:
        raise FileProblem(f"The file could not be read as CSV: {_first_line(error)}") from None
    finally:
        connection.close()
    if not aggregate.rows:
        raise FileProblem("The file has a header row but no calls under it.")
    return aggregate


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__


def _run_with_progress(connection, query: str, parameters: list, path: Path, progress) -> list:
    if progress is None:
        return connection.execute(query, parameters).fetchall()
    outcome: dict = {}

    def run():
        try:
            outcome["rows"] = connection.execute(query, parameters).fetchall()
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    size, start = max(1, os.path.getsize(path)), _rchar()
    worker = threading.Thread(target=run, name="calls-aggregate", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
        now = _rchar()
        if start is not None and now is not None and worker.is_alive():
            progress(min(0.99, (now - start) / size))
    if "error" in outcome:
        raise outcome["error"]
    progress(1.0)
    return outcome["rows"]


def _aggregate_of(rows: list, columns: list[str], *, ragged: int) -> Aggregate:
    aggregate = Aggregate()
    bit = {name: 1 << (len(columns) - 1 - index) for index, name in enumerate(columns)}
    every = (1 << len(columns)) - 1
    margins = {"priority": {}, "disposition": {}, "unit_type": {}}
    for row in rows:
        g, keys, (calls, no_type, bad_time, first, last) = row[0], dict(zip(columns, row[1:])), row[-5:]
        present = {name for name in columns if not g & bit[name]}
        if g == every:  # the grand total
            aggregate.unreadable = {reason: n for reason, n in (("call_type", no_type), ("received_at", bad_time),
                                                                ("ragged", ragged)) if n}
            aggregate.rows = calls + no_type + bad_time + ragged
            aggregate.period_start = first.date() if first else None
            aggregate.period_end = last.date() if last else None
        elif not calls:
            continue
        elif present == {"call_type"}:
            kind = clean_value(keys["call_type"])
            aggregate.call_types[kind] = aggregate.call_types.get(kind, 0) + calls
        elif present == {"h", "d"}:
            if keys["h"] is not None and keys["d"] is not None:
                aggregate.times[int(keys["d"])][int(keys["h"])] = calls
        else:
            (name,) = present
            value = clean_value(keys[name]) or None if keys[name] is not None else None
            margins[name][value] = margins[name].get(value, 0) + calls
    aggregate.call_types = capped(aggregate.call_types, MAX_CALL_TYPES, OTHER_CALL_TYPES)
    aggregate.priorities = capped(margins["priority"])
    aggregate.dispositions = capped(margins["disposition"])
    aggregate.unit_types = capped(margins["unit_type"])
    return aggregate


def _find_examples(path: Path, info: FileInfo, mapping: dict, connection, *, batch: int = 5000) -> list[list]:
    """Up to 20 unreadable rows with their line numbers (as a text editor counts them), read again with
    Python's csv module; times are judged by the same SQL as the aggregate, a batch at a time. Stops at the
    20th example (the file is read further only while fewer have been found)."""
    index = {column: position for position, column in enumerate(info.header)}
    type_at = index[mapping["call_type"]]
    time_at = index.get(mapping.get("received_at"))
    width = len(info.header)
    examples: list[tuple[int, str]] = []
    pending: list[tuple[int, str]] = []
    received = "nullif(trim(received_at), '')"
    check = (f"SELECT line FROM (SELECT unnest(?::BIGINT[]) AS line, unnest(?::VARCHAR[]) AS received_at) "
             f"WHERE {received} IS NOT NULL AND {time_sql(received)} IS NULL")

    def judge():
        if pending:
            values = dict(pending)
            bad = connection.execute(check, [list(values), list(values.values())])
            for (line,) in bad.fetchall():
                examples.append((int(line), f"{REASONS['received_at']}: {clean_value(values[line])[:40]!r}"))
            pending.clear()

    csv.field_size_limit(1 << 30)
    # The file read here is the prepared one: UTF-8, perhaps with a byte-order mark.
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=info.delimiter)
        next(reader, None)
        line = reader.line_num + 1
        for row in reader:
            if len(examples) >= MAX_EXAMPLES:
                break
            if row:
                if len(row) != width:
                    examples.append((line, f"{REASONS['ragged']} ({len(row)} where the header has {width})"))
                elif not clean_value(row[type_at]):
                    examples.append((line, REASONS["call_type"]))
                elif time_at is not None and row[time_at]:
                    pending.append((line, row[time_at]))
                    if len(pending) >= batch:
                        judge()
            line = reader.line_num + 1
        judge()
    return [list(example) for example in sorted(examples)[:MAX_EXAMPLES]]


def analyse(path: Path, info: FileInfo, mapping: dict, *, settings: EngineSettings, work_path: Path,
            max_bytes: int, progress: Callable[[str, float], None] | None = None) -> Aggregate:
    """Prepare the file (decompress, transcode) and aggregate it; `progress(stage, fraction)`."""
    readable = prepare(path, info, work_path=work_path, max_bytes=max_bytes,
                       progress=(lambda fraction: progress("preparing", fraction)) if progress else None)
    aggregate = aggregate_file(readable, info, mapping, settings=settings,
                               progress=(lambda fraction: progress("reading", fraction)) if progress else None)
    return aggregate
