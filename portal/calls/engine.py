"""Reading a dispatch extract: what the file is (compression, encoding, separator, header, a preview), the
column mapping proposed from its header, and the aggregate DuckDB's CSV reader computes from the mapped columns
only (no other column is read into the results). Nothing here touches the database."""
import codecs
import csv
import gzip
import io
import os
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from portal.calls.aggregate import MAX_CALL_TYPES, MAX_EXAMPLES, OTHER_CALL_TYPES, Aggregate, capped

FIELDS = ("call_type", "received_at", "priority", "disposition", "unit_type")
FIELD_LABELS = {
    "call_type": "Call type",
    "received_at": "Received time",
    "priority": "Priority",
    "disposition": "Disposition",
    "unit_type": "Responding unit type",
}
REQUIRED_FIELDS = ("call_type",)
# Header names cities use, compared normalized (lower case, letters and digits only): exact names first, then
# names that contain one of the words in FIELD_WORDS.
FIELD_NAMES = {
    "call_type": ("calltype", "typetext", "initialcalltype", "finalcalltype", "eventclearancegroup", "naturecode",
                  "nature", "calltypeoriginaldesc", "calltypefinaldesc", "calltypedesc", "calltypedescription",
                  "incidenttype", "eventtype", "problem", "problemtype", "initialtypetext", "type",
                  "callnature", "callcategory", "description", "calldescription", "incidentdescription"),
    "received_at": ("receivedat", "received", "receivedtime", "timereceived", "callreceived", "datetime",
                    "callreceivedtime", "receivedatetime", "calldatetime", "calltime", "incidentdatetime",
                    "originaltimequeued", "timecreate", "createdat", "created", "createtime", "timestamp",
                    "eventdatetime", "receivedate", "date", "time"),
    "priority": ("priority", "callpriority", "prio", "priorityfinal", "initialpriority", "prioritycode"),
    "disposition": ("disposition", "dispo", "finaldisposition", "dispositiondesc", "dispositioncode",
                    "closecode", "clearance", "clearancecode", "eventclearancedescription", "outcome"),
    "unit_type": ("unittype", "respondingunittype", "unit", "respondingunit", "agency", "respondingagency",
                  "respondertype", "primaryunittype", "discipline", "service"),
}
FIELD_WORDS = {
    "call_type": ("calltype", "typetext", "nature", "problem"),
    "received_at": ("received", "datetime", "timequeued"),
    "priority": ("priority",),
    "disposition": ("disposition", "clearancedesc"),
    "unit_type": ("unittype", "respondingunit", "responder"),
}

ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with a byte-order mark",
    "cp1252": "Windows-1252 (cp1252)",
    "latin-1": "Latin-1 (ISO 8859-1)",
}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
SAMPLE_BYTES = 256 * 1024
PREVIEW_ROWS = 5
PREVIEW_WIDTH = 60
MAX_VALUE_LENGTH = 200      # a call type, priority... longer than this is cut (the aggregate stays small)
CHUNK = 1024 * 1024
# Bytes 0x80-0x9f are printable in cp1252 except these five, which it leaves undefined.
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
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


class FileProblem(ValueError):
    """The file cannot be analysed; the message says why, in words for the person who sent it."""


@dataclass
class FileInfo:
    size_bytes: int
    is_compressed: bool
    encoding: str                  # a Python codec name, a key of ENCODING_LABELS
    delimiter: str
    header: list[str]
    preview: list[list[str]] = field(default_factory=list)
    sample_rows: int = 0           # records in the sample, to estimate the rows from the size
    sample_bytes: int = 0

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS[self.encoding]

    @property
    def delimiter_label(self) -> str:
        return DELIMITERS[self.delimiter]

    def estimated_rows(self, size: int) -> int:
        if not self.sample_rows or not self.sample_bytes:
            return 0
        return max(self.sample_rows, round(size * self.sample_rows / self.sample_bytes))


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def _open_raw(path: Path):
    """The file's bytes, uncompressed when it is gzip (told by its first bytes, not its name)."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return (gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")), magic == b"\x1f\x8b"


def _check_kind(sample: bytes) -> None:
    if sample.startswith(b"PK\x03\x04"):
        raise FileProblem("This is a zip archive or an Excel workbook, not a CSV file: save the sheet as CSV "
                          "(comma-separated values) and upload that.")
    if sample.startswith(b"%PDF"):
        raise FileProblem("This is a PDF document, not a CSV file.")
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("This file is in UTF-16; save it as UTF-8 CSV and upload it again.")
    head = sample[:8192]
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    if b"\x00" in head or controls > len(head) // 100 + 2:
        raise FileProblem("This is a binary file, not a CSV file (text with one call per line).")


def detect_encoding(sample: bytes, *, complete: bool) -> str:
    """UTF-8 (with or without a byte-order mark), else cp1252 when it uses the bytes only cp1252 prints,
    else Latin-1."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        # A sample cut inside a character is still UTF-8.
        if not complete and error.start >= len(sample) - 3 and error.reason == "unexpected end of data":
            return "utf-8"
    high = {byte for byte in sample if 0x80 <= byte <= 0x9F}
    if high and not high & _CP1252_UNDEFINED:
        return "cp1252"
    return "latin-1"


def _records(text: str, delimiter: str):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error:
        return


def _sniff_delimiter(text: str, complete: bool) -> str:
    """The separator that gives the most columns, the same number on the first lines."""
    lines = text if complete else text[:text.rfind("\n") + 1] or text
    best, best_columns = ",", 1
    for delimiter in DELIMITERS:
        counts = [len(row) for row, _ in zip(_records(lines, delimiter), range(20)) if row]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for count in counts if count == counts[0]) >= max(1, len(counts) * 0.8)
        if consistent and counts[0] > best_columns:
            best, best_columns = delimiter, counts[0]
    return best


def _clean_header(names: list[str]) -> list[str]:
    header, seen = [], set()
    for index, name in enumerate(names, start=1):
        name = " ".join(str(name).split())[:MAX_VALUE_LENGTH] or f"Column {index}"
        candidate, copy = name, 2
        while candidate.casefold() in seen:
            candidate, copy = f"{name} ({copy})", copy + 1
        seen.add(candidate.casefold())
        header.append(candidate)
    return header


def inspect_file(path: Path) -> FileInfo:
    """What the file is, from its first SAMPLE_BYTES (uncompressed). Raises FileProblem."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise FileProblem("The file is empty.")
    raw, compressed = _open_raw(path)
    try:
        with raw:
            sample = raw.read(SAMPLE_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        raise FileProblem("The file is compressed (gzip) but cut off or damaged; compress it again.") from None
    complete = len(sample) <= SAMPLE_BYTES
    sample = sample[:SAMPLE_BYTES]
    if not sample.strip():
        raise FileProblem("The file is empty." if not compressed else "The compressed file holds nothing.")
    _check_kind(sample)
    encoding = detect_encoding(sample, complete=complete)
    text = sample.decode(encoding, errors="ignore")
    if text.lstrip()[:1] in ("<", "{", "["):
        raise FileProblem("This looks like a web page or JSON, not a CSV file.")
    delimiter = _sniff_delimiter(text, complete)
    usable = text if complete else text[:text.rfind("\n") + 1]
    records = _records(usable, delimiter)
    header = next((row for row in records if any(cell.strip() for cell in row)), None)
    if header is None:
        raise FileProblem("The file has no header row (the first line should name the columns).")
    preview, sample_rows = [], 0
    for row in records:
        if not any(cell.strip() for cell in row):
            continue
        sample_rows += 1
        if len(preview) < PREVIEW_ROWS:
            preview.append([cell[:PREVIEW_WIDTH] for cell in row])
    if complete and not sample_rows:
        raise FileProblem("The file has a header row but no calls under it.")
    return FileInfo(size_bytes=size, is_compressed=compressed, encoding=encoding, delimiter=delimiter,
                    header=_clean_header(header), preview=preview, sample_rows=sample_rows,
                    sample_bytes=len(usable.encode(encoding, errors="ignore")))


def propose_mapping(header: list[str], remembered: dict | None = None) -> dict[str, str]:
    """field -> column: the jurisdiction's remembered mapping where its columns are in this header, then the
    names cities use (an exact name, then a name holding a telling word), each column used once."""
    by_squashed = {_squash(name): name for name in header}
    mapping, used = {}, set()
    for name, column in (remembered or {}).items():
        if name in FIELDS and column in header and column not in used:
            mapping[name] = column
            used.add(column)
    for name in FIELDS:
        if name in mapping:
            continue
        column = next((by_squashed[known] for known in FIELD_NAMES[name]
                       if known in by_squashed and by_squashed[known] not in used), None)
        if column is None:
            column = next((column for column in header if column not in used
                           and any(word in _squash(column) for word in FIELD_WORDS[name])), None)
        if column is not None:
            mapping[name] = column
            used.add(column)
    return mapping


def check_mapping(mapping: dict, header: list[str]) -> dict[str, str]:
    """The mapping cleaned (empty fields dropped); raises FileProblem naming the field that is wrong."""
    cleaned = {}
    for name, column in (mapping or {}).items():
        if name not in FIELDS:
            raise FileProblem(f"Unknown field {name!r}: use one of {', '.join(FIELDS)}.")
        if not column:
            continue
        if column not in header:
            raise FileProblem(f"{FIELD_LABELS[name]}: the file has no column {column!r} "
                              f"(its columns: {', '.join(header)}).")
        cleaned[name] = column
    for name in REQUIRED_FIELDS:
        if name not in cleaned:
            raise FileProblem(f"Choose the column that holds the {FIELD_LABELS[name].lower()}.")
    columns = list(cleaned.values())
    duplicate = next((column for column in columns if columns.count(column) > 1), None)
    if duplicate:
        raise FileProblem(f"The column {duplicate!r} is chosen for two fields; choose one column per field.")
    return cleaned


def prepare(path: Path, info: FileInfo, *, work_path: Path, max_bytes: int,
            progress: Callable[[float], None] | None = None) -> Path:
    """The file as UTF-8 text DuckDB reads: `path` itself when it already is, else `work_path`, written while
    decompressing and transcoding, and stopped (FileProblem) once the text passes `max_bytes` (a gzip bomb)."""
    if not info.is_compressed and info.encoding in ("utf-8", "utf-8-sig"):
        return path
    decoder = codecs.getincrementaldecoder(info.encoding)(errors="replace")
    written = 0
    raw, _ = _open_raw(path)
    compressed_size = max(1, path.stat().st_size)
    try:
        with raw, open(work_path, "wb") as out:
            while chunk := raw.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise FileProblem(f"Uncompressed, the file is over the limit of {_size(max_bytes)}; "
                                      "split it into smaller files.")
                out.write(decoder.decode(chunk).encode("utf-8"))
                if progress is not None:
                    underlying = getattr(raw, "fileobj", raw)  # the compressed file, for a gzip one
                    progress(min(1.0, underlying.tell() / compressed_size))
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
    except (EOFError, zlib.error, gzip.BadGzipFile):
        raise FileProblem("The compressed file is cut off or damaged; compress it again and upload it.") from None
    return work_path


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"


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
