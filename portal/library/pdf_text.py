"""PDF text for search, page by page, within the limits of portal/library/extraction.py.

Caps on pages and on decoded content-stream bytes per page and in total (a stream shared by many pages counts
on every page), pypdf's own limits lowered (stream size, tokens parsed per stream, form XObjects run per page),
and the CPU budget checked between pages and every few hundred operators inside a page, forms included.
"""
import io
import logging
import re

from pypdf import PdfReader, apply_configuration
from pypdf.errors import PyPdfError

from portal.library.extraction import DAMAGED, TOO_LARGE, TOO_SLOW, Budget, Stop

log = logging.getLogger(__name__)
# Page by page, these end one page's text, not the file's.
PAGE_ERRORS = (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, OSError,
               ZeroDivisionError, MemoryError)

# The operators that can show text (a form XObject, drawn with Do, may hold some): a page without any
# is a figure, skipped without parsing (what pypdf does by itself when no visitor is given).
_TEXT_OPERATOR = re.compile(rb"T[jJ]|Do|['\"]")


def _page_contents(page) -> tuple[int | None, list[bytes]]:
    """Which content object the page draws (pages that share a stream share the object: pypdf caches what it
    resolves) and the decoded data of its streams (decoded once however many pages share them)."""
    contents = page.get("/Contents")
    if contents is None:
        return None, []
    contents = contents.get_object()
    streams = contents if isinstance(contents, list) else [contents]
    return id(contents), [stream.get_object().get_data() for stream in streams]


def read_pdf(data: bytes, budget: Budget) -> None:
    limits = budget.limits
    operators = 0
    failed: set[int] = set()  # content objects pypdf could not get through: not parsed again for another page

    def count_operator(operator, operands, cm, tm):
        # Runs before every operator, including those of form XObjects the page draws: the CPU budget is
        # checked inside a page too, not only between pages.
        nonlocal operators
        operators += 1
        if operators % 512 == 0:
            budget.check_time()

    configuration = dict(zlib_maximum_output_length=limits.stream_bytes,
                         zlib_maximum_recovery_input_length=limits.stream_repair_bytes,
                         lzw_maximum_output_length=limits.stream_bytes,
                         run_length_maximum_output_length=limits.stream_bytes,
                         array_based_stream_maximum_output_length=limits.stream_bytes,
                         stream_parsing_work_maximum_count=limits.stream_elements,
                         xform_maximum_invocations_per_extraction=limits.forms_per_page)
    with apply_configuration(**configuration):
        try:
            reader = PdfReader(io.BytesIO(data))
            pages = reader.pages
            count = len(pages)
        except PAGE_ERRORS:
            log.warning("could not open a PDF for its text", exc_info=True)
            raise Stop(DAMAGED) from None
        for number in range(min(count, limits.pages)):
            budget.check_time()
            identity = None
            try:
                page = pages[number]
                identity, contents = _page_contents(page)
                size = sum(len(stream) for stream in contents)
                budget.work["content_bytes"] += size
                if budget.work["content_bytes"] > limits.pdf_content_bytes:
                    raise Stop(TOO_SLOW)
                if size > limits.page_content_bytes or identity in failed:
                    budget.skip_page(TOO_SLOW)
                    continue
                budget.work["pages"] += 1
                if not any(_TEXT_OPERATOR.search(stream) for stream in contents):
                    continue
                text = page.extract_text(visitor_operand_before=count_operator) or ""
            except PAGE_ERRORS:
                # One unreadable page (or one over pypdf's own limits) loses its text, not the others'.
                log.warning("could not extract the text of a PDF page", exc_info=True)
                budget.skip_page(DAMAGED)
                if identity is not None:
                    failed.add(identity)
                continue
            budget.add_text(text + "\n")
    if count > limits.pages:
        raise Stop(TOO_LARGE)
