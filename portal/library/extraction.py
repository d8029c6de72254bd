"""Text of uploaded files for search, bounded in bytes, work and CPU time whatever the file claims.

Office files (DOCX, XLSX, PPTX) are zip packages: their XML parts are streamed out of the zip in small
decompressed chunks into an expat parser (no DTD, so no entity expansion), with caps on the bytes
decompressed in total, on each part's expansion ratio and on the number of members; nested archives are
never opened. PDFs are read page by page (portal/library/pdf_text.py) with caps on pages and on
content-stream bytes (a stream shared by many pages counts every time it is read) and a CPU-time budget
checked between pages and between the operators of a page. A file that hits a cap keeps the text read so
far: the upload itself stands, because a large genuine workbook hits the same caps as a bomb and its owner
still wants it attached; staff see why beside the file.
"""
import io
import logging
import re
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from xml.parsers import expat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    text_chars: int = 400_000             # characters kept for search
    cpu_seconds: float = 5.0              # CPU time of the extracting thread, per file
    # Zip packages
    members: int = 5_000                  # a large genuine deck has a few thousand
    directory_bytes: int = 1_000_000      # central directory parsed by zipfile (~20,000 members at most)
    xml_bytes: int = 16_000_000           # decompressed bytes read from all parts together
    ratio: int = 100                      # decompressed/compressed per part (Apache POI's default bound)
    ratio_grace: int = 1_000_000          # a part may expand freely up to this (small, very regular XML)
    # PDFs
    pages: int = 300
    page_content_bytes: int = 1_000_000   # decoded content of one page; a larger page's text is skipped
    pdf_content_bytes: int = 8_000_000    # all pages together, shared streams counted on every page
    stream_bytes: int = 12_000_000        # largest decoded stream pypdf may produce (flate bombs)
    stream_repair_bytes: int = 200_000    # pypdf retries a broken flate stream byte by byte up to this
    stream_elements: int = 100_000        # tokens pypdf may parse in one content stream
    forms_per_page: int = 100             # form XObjects pypdf may run while extracting one page


LIMITS = Limits()

# What staff read beside a file whose text is partial or missing (templates/library_staff/edit.html).
DAMAGED = "the file could not be read"
EXPANDS = "the file expands too much when opened"
TOO_LARGE = "the text is longer than the search keeps"
TOO_SLOW = "the file takes too long to read"
NO_TEXT = "the file contains no text"


class PackageRefused(ValueError):
    """A zip that no Office program writes: refused at upload, before any member is decompressed."""


class Stop(BaseException):
    # A BaseException so that pypdf's `except Exception` around form XObjects cannot swallow it: the budget
    # ends the page at once instead of after every remaining operator has raised and been logged.
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Extracted:
    """The text and how it went: status is "done", "partial" (cut at a limit) or "none"; note says why."""

    text: str = ""
    status: str = "done"
    note: str = ""
    work: dict = field(default_factory=dict)  # what was spent: bytes, parts, pages (logged, and tested)


class Budget:
    def __init__(self, limits: Limits, archive_size: int = 0):
        self.limits = limits
        self.archive_size = archive_size
        self.parts: list[str] = []
        self.size = 0
        self.note = ""  # why some of the text is missing though the reading went on (a skipped page)
        self.work = {"xml_bytes": 0, "members_read": 0, "pages": 0, "content_bytes": 0, "pages_skipped": 0}
        self.cpu_start = time.thread_time()  # this thread only: a worker's other threads do not count

    def add_text(self, text: str) -> None:
        room = self.limits.text_chars - self.size
        self.parts.append(text[:room])
        self.size += min(len(text), room)
        if len(text) > room:
            raise Stop(TOO_LARGE)

    def add_break(self) -> None:
        """End a line; empty paragraphs and rows add nothing (so they cannot fill the text limit either)."""
        if self.parts and not self.parts[-1].endswith("\n"):
            self.add_text("\n")

    def check_time(self) -> None:
        if time.thread_time() - self.cpu_start > self.limits.cpu_seconds:
            raise Stop(TOO_SLOW)

    def skip_page(self, reason: str) -> None:
        self.work["pages_skipped"] += 1
        self.note = self.note or reason

    def text(self) -> str:
        return "".join(self.parts).replace("\x00", "")


def extract(data: bytes, kind: str, limits: Limits = LIMITS) -> Extracted:
    """The searchable text of a file of this kind (as sniffed), never more work than `limits` allow."""
    budget = Budget(limits, len(data))
    note = ""
    try:
        if kind == "pdf":
            from portal.library.pdf_text import read_pdf  # pypdf is imported only where PDFs are read

            read_pdf(data, budget)
        elif kind in OOXML_READERS:
            _ooxml_text(data, kind, budget)
        elif kind == "csv":
            budget.add_text(data.decode("utf-8-sig", "replace"))
    except Stop as stop:
        note = stop.reason
    except Exception:
        # A hostile file may trip any parser in a way nobody listed; it must end as "could not be read",
        # never as a task that fails and is queued again every quarter of an hour.
        log.exception("could not extract the text of a %s file", kind)
        note = DAMAGED
    note = note or budget.note
    text = budget.text()
    work = dict(budget.work, cpu_seconds=round(time.thread_time() - budget.cpu_start, 3))
    if not text.strip():
        return Extracted("", "none", note or NO_TEXT, work)
    return Extracted(text, "partial" if note else "done", note, work)


# --- zip packages ------------------------------------------------------------------------------

def open_package(data: bytes) -> zipfile.ZipFile:
    """Open a zip only if its central directory is of a size an Office file has, so that neither sniffing
    nor extraction spends seconds on a directory of a million entries. Raises PackageRefused."""
    handle = io.BytesIO(data)
    try:
        # zipfile's own reading of the end record, so the size checked is the one ZipFile will parse.
        end = zipfile._EndRecData(handle)
    except OSError as exc:
        raise PackageRefused("That file is damaged: it could not be opened.") from exc
    if not end:
        raise PackageRefused("That file is damaged: it could not be opened.")
    if end[zipfile._ECD_SIZE] > LIMITS.directory_bytes:
        raise PackageRefused("That archive has far more parts than a Word, Excel or PowerPoint file.")
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:  # "zip version 10.4"
        raise PackageRefused("That file is damaged: it could not be opened.") from exc
    if len(archive.infolist()) > LIMITS.members:
        archive.close()
        raise PackageRefused("That archive has far more parts than a Word, Excel or PowerPoint file.")
    return archive


def _numbered(names, pattern: str) -> list[str]:
    """slide1.xml, slide2.xml, ..., slide10.xml in their numeric order."""
    found = [(int(m.group(1)), name) for name in names if (m := re.fullmatch(pattern, name))]
    return [name for _, name in sorted(found)]


def _member_chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, chunk: int = 65536):
    """The member's decompressed bytes, a chunk at a time, counted against the caps as they come (the sizes
    the archive declares are not trusted: only what is actually decompressed counts)."""
    limits = budget.limits
    compressed = max(1, min(info.compress_size, budget.archive_size))  # a declared size can lie
    budget.work["members_read"] += 1
    read = 0
    with archive.open(info) as stream:
        while data := stream.read(chunk):  # ZipExtFile inflates at most `chunk` bytes per read
            read += len(data)
            budget.work["xml_bytes"] += len(data)
            if budget.work["xml_bytes"] > limits.xml_bytes:
                raise Stop(EXPANDS)
            if read > limits.ratio_grace and read > limits.ratio * compressed:
                raise Stop(EXPANDS)
            budget.check_time()
            yield data


class _XmlText:
    """Feeds an XML part to expat, calling the handler's end(local name) and text(data), and start(local
    name, attributes) only if it has one: a Python call per event is most of the cost, so the docx and
    pptx readers work from end events alone."""

    def __init__(self, handler):
        names: dict[str, str] = {}

        def local(name: str) -> str:  # "uri local" -> "local", cached: a part repeats a few names
            found = names.get(name)
            if found is None:
                found = names[name] = name.rpartition(" ")[2]
            return found

        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.buffer_text = True
        if hasattr(handler, "start"):
            self.parser.StartElementHandler = lambda name, attrs: handler.start(local(name), attrs)
        self.parser.EndElementHandler = lambda name: handler.end(local(name))
        self.parser.CharacterDataHandler = handler.text
        # Office parts never declare a DTD; refusing one means no entity is ever defined, let alone expanded.
        self.parser.StartDoctypeDeclHandler = self._refuse_doctype

    @staticmethod
    def _refuse_doctype(*args):
        raise Stop(DAMAGED)

    def feed_all(self, chunks) -> None:
        try:
            for data in chunks:
                self.parser.Parse(data, False)
            self.parser.Parse(b"", True)
        except expat.ExpatError:
            raise Stop(DAMAGED) from None


def _read_part(archive, name: str, budget: Budget, handler) -> None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return
    try:
        _XmlText(handler).feed_all(_member_chunks(archive, info, budget))
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError):
        # A bad CRC, corrupt deflate data, an encrypted member, an unknown compression method, a truncated
        # stream.
        raise Stop(DAMAGED) from None


class _Runs:
    """The text of `text_tags` elements (leaves: only text inside); `break_tags` end a line, `tab_tags`
    add a tab. Text seen since the last end event belongs to the element that ends next."""

    def __init__(self, budget: Budget, text_tags, break_tags, tab_tags=()):
        self.budget, self.text_tags, self.break_tags, self.tab_tags = budget, text_tags, break_tags, tab_tags
        self.pending: list[str] = []

    def text(self, data: str) -> None:
        self.pending.append(data)

    def end(self, name: str) -> None:
        if name in self.text_tags:
            self.budget.add_text("".join(self.pending))
        elif name in self.break_tags:
            self.budget.add_break()
        elif name in self.tab_tags:
            self.budget.add_text("\t")
        if self.pending:
            self.pending.clear()


def _docx(archive, budget: Budget) -> None:
    # w:t is visible text; w:delText (deleted revisions) and w:instrText (field codes) are left out.
    _read_part(archive, "word/document.xml", budget, _Runs(budget, {"t"}, {"p", "br", "cr"}, {"tab"}))


def _pptx(archive, budget: Budget) -> None:
    for name in _numbered(archive.namelist(), r"ppt/slides/slide(\d+)\.xml"):
        _read_part(archive, name, budget, _Runs(budget, {"t"}, {"p"}))
        budget.add_break()


class _SharedStrings:
    """Each <si> is one string: its <t>, or its rich-text runs' <t>, never the phonetic guide (<rPh>)."""

    def __init__(self, budget: Budget):
        self.budget, self.strings, self.current, self.depth = budget, [], [], {"t": 0, "rPh": 0}

    def text(self, data: str) -> None:
        if self.depth["t"] and not self.depth["rPh"]:
            self.current.append(data)

    def start(self, name: str, attrs) -> None:
        if name in self.depth:
            self.depth[name] += 1

    def end(self, name: str) -> None:
        if name in self.depth:
            self.depth[name] -= 1
        elif name == "si":
            self.strings.append("".join(self.current))
            self.current.clear()


class _Cells:
    """A worksheet's cells as tab-separated lines; shared-string cells are looked up, numbers kept."""

    def __init__(self, budget: Budget, shared: list[str]):
        self.budget, self.shared = budget, shared
        self.cell_type, self.value, self.inside = None, [], 0

    def text(self, data: str) -> None:
        if self.inside:
            self.value.append(data)

    def start(self, name: str, attrs) -> None:
        if name == "c":
            self.cell_type, self.value = attrs.get("t"), []
        elif name in ("v", "t"):
            self.inside += 1

    def end(self, name: str) -> None:
        if name in ("v", "t"):
            self.inside -= 1
        elif name == "c":
            text = "".join(self.value)
            if self.cell_type == "s":
                index = int(text) if text.strip().isdigit() else -1
                text = self.shared[index] if 0 <= index < len(self.shared) else ""
            if text:
                self.budget.add_text(text + "\t")
        elif name == "row":
            self.budget.add_break()


def _xlsx(archive, budget: Budget) -> None:
    # The table is held in memory, but never more of it than the decompressed-bytes cap lets through.
    strings = _SharedStrings(budget)
    _read_part(archive, "xl/sharedStrings.xml", budget, strings)
    for name in _numbered(archive.namelist(), r"xl/worksheets/sheet(\d+)\.xml"):
        _read_part(archive, name, budget, _Cells(budget, strings.strings))


OOXML_READERS = {"docx": _docx, "xlsx": _xlsx, "pptx": _pptx}


def _ooxml_text(data: bytes, kind: str, budget: Budget) -> None:
    try:
        archive = open_package(data)
    except PackageRefused:
        raise Stop(DAMAGED) from None
    with archive:
        OOXML_READERS[kind](archive, budget)
