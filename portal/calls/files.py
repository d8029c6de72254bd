"""What an uploaded dispatch extract is: compression, encoding, separator, header and a preview, from its first
bytes; and the file as UTF-8 text for DuckDB (decompressed and transcoded, stopped at the size limit)."""
import codecs
import csv
import gzip
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from portal.text import size_label

MAX_VALUE_LENGTH = 200      # a call type, priority, column name... longer than this is cut
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
CHUNK = 1024 * 1024
# Bytes 0x80-0x9f are printable in cp1252 except these five, which it leaves undefined.
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}

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
                    raise FileProblem(f"Uncompressed, the file is over the limit of {size_label(max_bytes)}; "
                                      "split it into smaller files.")
                out.write(decoder.decode(chunk).encode("utf-8"))
                if progress is not None:
                    underlying = getattr(raw, "fileobj", raw)  # the compressed file, for a gzip one
                    progress(min(1.0, underlying.tell() / compressed_size))
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
    except (EOFError, zlib.error, gzip.BadGzipFile):
        raise FileProblem("The compressed file is cut off or damaged; compress it again and upload it.") from None
    return work_path
