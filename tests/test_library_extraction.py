"""Text extraction for search stays bounded: zip bombs, huge directories, nested archives, slow PDFs.

Every hostile file is built here, in memory (nothing large is committed), and each test asserts the work
actually done: the bytes zipfile decompressed, the bytes pypdf parsed, the members opened.
"""
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf.generic import ContentStream

from portal.exceptions import ValidationFailed
from portal.library import extraction
from portal.library.attachments import sniff_kind
from portal.library.extraction import DAMAGED, EXPANDS, TOO_LARGE, TOO_SLOW, Limits, extract
from tests.library_helpers import ooxml_bytes, pdf_bytes, pdf_document

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CHUNK = 65536  # what one read of a zip member may return beyond a cap


def package(parts: dict[str, bytes], *, level: int = 9) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types/>')
        archive.writestr("_rels/.rels", b'<?xml version="1.0"?><Relationships/>')
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(body: bytes, **extra: bytes) -> bytes:
    document = b"<w:document " + W.encode() + b"><w:body>" + body + b"</w:body></w:document>"
    return package({"word/document.xml": document, **{name.replace("__", "/"): data for name, data in extra.items()}})


def paragraph(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


@pytest.fixture
def decompressed(monkeypatch):
    """Counts the bytes zipfile really decompresses (every read of every member), whatever the archive claims."""
    counter = {"bytes": 0, "reads": 0}
    original = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = original(self, n)
        counter["bytes"] += len(data)
        counter["reads"] += 1
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    return counter


@pytest.fixture
def parsed(monkeypatch):
    """Counts the content-stream bytes pypdf parses into operators (the slow part of PDF text extraction)."""
    counter = {"bytes": 0, "streams": 0}
    original = ContentStream._parse_content_stream

    def counting_parse(self, stream):
        counter["bytes"] += len(stream.getbuffer()) if hasattr(stream, "getbuffer") else 0
        counter["streams"] += 1
        return original(self, stream)

    monkeypatch.setattr(ContentStream, "_parse_content_stream", counting_parse)
    return counter


# --- Office files: text ------------------------------------------------------------------------

def test_docx_text_is_read_paragraph_by_paragraph():
    body = (paragraph("Crisis line") + b"<w:p><w:r><w:t>first</w:t></w:r><w:r><w:tab/><w:t>second</w:t></w:r>"
            b"<w:del><w:r><w:delText>withdrawn</w:delText></w:r></w:del></w:p>")
    result = extract(docx(body), "docx")
    assert (result.status, result.note) == ("done", "")
    assert result.text == "Crisis line\nfirst\tsecond\n"


def test_xlsx_text_comes_from_shared_strings_and_sheets_in_order():
    strings = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               b"<si><t>Denver</t></si><si><r><t>Tuc</t></r><r><t>son</t></r><rPh><t>ignored</t></rPh></si></sst>")

    def sheet(rows: str) -> bytes:
        return ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                f"{rows}</sheetData></worksheet>").encode()

    data = package({
        "xl/workbook.xml": b"<workbook/>",
        "xl/sharedStrings.xml": strings,
        "xl/worksheets/sheet10.xml": sheet('<row><c t="inlineStr"><is><t>last sheet</t></is></c></row>'),
        "xl/worksheets/sheet2.xml": sheet('<row><c t="s"><v>1</v></c><c><v>100</v></c></row>'),
        "xl/worksheets/sheet1.xml": sheet('<row><c t="s"><v>0</v></c><c><v>4700</v></c><c t="s"><v>99</v></c></row>'),
    })
    result = extract(data, "xlsx")
    assert result.status == "done"
    assert result.text.split("\n") == ["Denver\t4700\t", "Tucson\t100\t", "last sheet\t", ""]


def test_pptx_text_comes_from_slides_in_their_order():
    def slide(text: str) -> bytes:
        return (b'<p:sld xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>' + text.encode() + b"</a:t></a:r></a:p></p:sld>")

    data = package({"ppt/presentation.xml": b"<p:presentation/>", "ppt/slides/slide10.xml": slide("ten"),
                    "ppt/slides/slide2.xml": slide("two"), "ppt/slides/slide1.xml": slide("one")})
    assert extract(data, "pptx").text.split() == ["one", "two", "ten"]


# --- Office files: bombs -----------------------------------------------------------------------

def test_a_docx_bomb_stops_at_the_expansion_ratio(decompressed):
    # 8 MB of empty paragraphs (no text, so the text limit never stops it) deflate to a few KB.
    bomb = docx(paragraph("quillwort") + b"<w:p/>" * 1_400_000)
    assert len(bomb) < 40_000
    result = extract(bomb, "docx")
    assert (result.status, result.note, result.text) == ("partial", EXPANDS, "quillwort\n")
    part = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/document.xml")
    limits = extraction.LIMITS
    assert decompressed["bytes"] <= max(limits.ratio_grace, limits.ratio * part.compress_size) + CHUNK
    assert decompressed["bytes"] < part.file_size / 5  # of 8.4 MB
    assert result.work["xml_bytes"] == decompressed["bytes"]


def test_a_part_of_zeros_is_refused_by_the_parser_at_once(decompressed):
    zeros = package({"xl/workbook.xml": b"<workbook/>", "xl/sharedStrings.xml": b"\x00" * 5_000_000})
    assert len(zeros) < 20_000
    result = extract(zeros, "xlsx")
    assert (result.status, result.note) == ("none", DAMAGED)
    assert decompressed["bytes"] <= CHUNK


def test_many_parts_together_stop_at_the_total_cap(decompressed):
    # Slides that each expand modestly (under the ratio) add up; the total cap ends the reading.
    words = " ".join(f"w{n}" for n in range(20_000)).encode()
    slides = {f"ppt/slides/slide{n}.xml": b'<p:sld xmlns:p="p" xmlns:a="a"><a:p><a:t>' + words + b"</a:t></a:p></p:sld>"
              for n in range(1, 40)}
    data = package({"ppt/presentation.xml": b"<p:presentation/>", **slides})
    limits = Limits(xml_bytes=500_000, text_chars=10_000_000)
    result = extract(data, "pptx", limits)
    assert (result.status, result.note) == ("partial", EXPANDS)
    assert decompressed["bytes"] <= limits.xml_bytes + CHUNK
    assert result.work["members_read"] < 10


def test_the_text_limit_ends_the_reading():
    result = extract(docx(paragraph("word " * 5000)), "docx", Limits(text_chars=1000))
    assert (result.status, result.note, len(result.text)) == ("partial", TOO_LARGE, 1000)


def test_entities_are_never_expanded(decompressed):
    # A billion laughs: nine levels of ten references each. Office parts never have a DTD, so one is refused.
    entities = b'<!ENTITY l0 "lol">' + b"".join(b'<!ENTITY l%d "%s">' % (n, b"&l%d;" % (n - 1) * 10)
                                                for n in range(1, 9))
    laughs = (b'<?xml version="1.0"?><!DOCTYPE w:document [' + entities + b"]><w:document " + W.encode()
              + b"><w:body><w:p><w:r><w:t>&l8;</w:t></w:r></w:p></w:body></w:document>")
    result = extract(package({"word/document.xml": laughs}), "docx")
    assert (result.status, result.note, result.text) == ("none", DAMAGED, "")
    assert decompressed["bytes"] < 2000


def test_a_nested_archive_is_never_opened(decompressed):
    inner_bomb = package({"word/document.xml": b"\x00" * 4_000_000})
    nested = package({"bomb.zip": inner_bomb, "word/document.xml": b"<w/>"})
    data = docx(paragraph("quillwort"), word__embeddings__nested__zip=nested)
    result = extract(data, "docx")
    assert (result.status, result.text) == ("done", "quillwort\n")
    assert result.work["members_read"] == 1
    assert decompressed["bytes"] < 1000


def test_sniffing_a_bomb_decompresses_nothing(decompressed):
    assert sniff_kind(docx(b"<w:p/>" * 1_400_000), "bomb.docx") == "docx"
    assert decompressed == {"bytes": 0, "reads": 0}


def many_members(count: int, name_length: int = 8) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<w/>")
        for n in range(count):
            archive.writestr(f"word/{n:0{name_length}d}", b"")
    return out.getvalue()


def test_an_archive_with_too_many_members_is_refused():
    with pytest.raises(ValidationFailed, match="far more parts than a Word, Excel or PowerPoint file"):
        sniff_kind(many_members(extraction.LIMITS.members + 10), "many.docx")
    assert sniff_kind(many_members(200), "fine.docx") == "docx"


def test_a_huge_central_directory_is_refused_before_zipfile_parses_it(monkeypatch):
    data = many_members(12_000, name_length=80)  # ~1.6 MB of central directory
    opened = []
    original = zipfile.ZipFile

    def spy(*args, **kwargs):
        opened.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", spy)
    with pytest.raises(ValidationFailed, match="far more parts"):
        sniff_kind(data, "huge.docx")
    assert extract(data, "docx").note == DAMAGED
    assert opened == []


# --- PDFs ----------------------------------------------------------------------------------------

def shared_stream_pdf(pages: int, stream: bytes, *, filters: bytes = b"", form: bytes = b"") -> bytes:
    """`pages` pages that all draw the same content stream (object 3), and may draw the form XObject /X0."""
    kids = b" ".join(b"%d 0 R" % (6 + n) for n in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
               b"<< /Length %d %s>>\nstream\n" % (len(stream), filters) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
               b"/Length %d >>\nstream\n" % len(form) + form + b"\nendstream"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
                b"/Resources << /Font << /F1 4 0 R >> /XObject << /X0 5 0 R >> >> >>"] * pages
    return pdf_document(objects)


def empty_text(size: int) -> bytes:
    """A content stream of `size` bytes that shows nothing: empty strings never reach the text limit."""
    return b"BT /F1 12 Tf " + b"() Tj " * (size // 6) + b"ET"


def test_the_issue_pdf_parses_none_of_its_oversized_shared_stream(parsed):
    # The issue's file: 20 pages sharing one 1 MB stream of empty text (29 s of CPU on upload before).
    result = extract(shared_stream_pdf(20, empty_text(1_000_000)), "pdf")
    assert (result.status, result.note) == ("none", TOO_SLOW)
    assert parsed["bytes"] == 0  # each page's 1 MB is over the page cap: skipped, not parsed
    assert result.work["pages"] == 0
    assert result.work["content_bytes"] <= extraction.LIMITS.pdf_content_bytes + 1_000_100


def test_a_shared_stream_counts_on_every_page(parsed):
    stream = empty_text(100_000)
    limits = Limits(pdf_content_bytes=350_000)
    result = extract(shared_stream_pdf(20, stream), "pdf", limits)
    assert (result.status, result.note) == ("none", TOO_SLOW)
    assert result.work["pages"] == 3  # 3 x 100 KB fit in the cap, the fourth page does not
    assert parsed["bytes"] <= limits.pdf_content_bytes


def test_a_stream_pypdf_gives_up_on_is_not_parsed_again_for_the_next_page(parsed):
    result = extract(shared_stream_pdf(20, empty_text(30_000)), "pdf", Limits(stream_elements=1000))
    assert result.status == "none"
    assert parsed["streams"] == 1  # over pypdf's token limit on the first page; the 19 others skip it
    assert result.work["pages_skipped"] == 20


def test_figures_are_not_parsed(parsed):
    drawing = b"0 0 m 100 100 l S " * 30_000  # 540 KB of lines, no text operator
    result = extract(shared_stream_pdf(10, drawing), "pdf")
    assert (result.status, result.note, result.work["pages"]) == ("none", extraction.NO_TEXT, 10)
    assert parsed["streams"] == 0


def test_a_form_drawn_again_and_again_is_run_a_bounded_number_of_times(parsed):
    form = b"BT /F1 12 Tf (word) Tj ET " * 20
    limits = Limits(forms_per_page=30)
    result = extract(shared_stream_pdf(2, b"q /X0 Do Q " * 5000, form=form), "pdf", limits)
    assert result.status == "done"
    assert parsed["streams"] <= 2 * (1 + limits.forms_per_page)  # not 2 x 5,000


def test_real_text_is_extracted_page_by_page_up_to_the_page_cap():
    result = extract(shared_stream_pdf(5, b"BT /F1 12 Tf 72 720 Td (Brambleford) Tj ET"), "pdf", Limits(pages=2))
    assert (result.status, result.note) == ("partial", TOO_LARGE)
    assert result.text.split() == ["Brambleford", "Brambleford"]
    assert extract(pdf_bytes("The xylograph appendix"), "pdf").text.strip() == "The xylograph appendix"


def test_the_cpu_budget_stops_the_reading(parsed):
    result = extract(shared_stream_pdf(5, b"BT /F1 12 Tf 72 720 Td (Brambleford) Tj ET"), "pdf",
                     Limits(cpu_seconds=0))
    assert (result.status, result.note, result.work["pages"]) == ("none", TOO_SLOW, 0)
    assert parsed["streams"] == 0


def test_a_flate_bomb_content_stream_is_not_inflated_past_the_stream_cap():
    import zlib

    bomb = zlib.compress(b" " * 40_000_000, 9)
    result = extract(shared_stream_pdf(2, bomb, filters=b"/Filter /FlateDecode "), "pdf")
    assert (result.status, result.note, result.work["pages_skipped"]) == ("none", DAMAGED, 2)


def test_a_broken_pdf_gives_no_text():
    result = extract(b"%PDF-1.4\n" + b"garbage " * 50, "pdf")
    assert (result.status, result.note, result.text) == ("none", DAMAGED, "")


# --- anything at all ------------------------------------------------------------------------------

SEEDS = [("docx", docx(paragraph("quillwort") * 50)), ("xlsx", ooxml_bytes("xlsx")), ("pptx", ooxml_bytes("pptx")),
         ("pdf", pdf_bytes("The xylograph appendix")), ("csv", b"place,count\nBrambleford,12\n")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), cut=st.integers(1, 20_000),
       flips=st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 255)), max_size=6))
def test_damaged_files_are_refused_or_give_some_text_never_an_error(seed, cut, flips):
    kind, original = seed
    data = bytearray(original[:cut])
    for at, value in flips:
        data[at % len(data)] = value
    try:
        sniff_kind(bytes(data), f"file.{kind}")
    except ValidationFailed as refused:
        assert refused.message
    result = extract(bytes(data), kind)
    assert result.status in ("done", "partial", "none")
    assert len(result.text) <= extraction.LIMITS.text_chars
    assert (result.status == "done") == (not result.note)
