"""Builds the two-page initiative overview PDF from content/overview/initiative-overview.md.

Run it after editing the content file (`.venv/bin/python scripts/build_overview_pdf.py`) and commit the PDF;
tests/test_content.py rebuilds it and fails if the committed bytes differ. The build is reproducible: the
creation date comes from the content file, the document id is derived from the bytes, and only core fonts
are used, so nothing depends on the machine or the time of the build.
"""
import argparse
import re
import sys
from datetime import datetime, time, timezone
from pathlib import Path

import frontmatter
from fpdf import FPDF

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "content" / "overview" / "initiative-overview.md"

BRAND = (11, 79, 108)  # the site's --brand colour
INK = (26, 26, 26)
MUTED = (74, 79, 85)
WASH = (243, 246, 248)
FONT = "helvetica"  # a core font: nothing to embed or download

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
# "([source](url))" reads as a bare reference number; any other link keeps its text.
_BARE_SOURCE = re.compile(r"\s*\(\[source\]\(([^)\s]+)\)\)")


class Overview(FPDF):
    footer_text = ""

    def footer(self):
        self.set_y(-12)
        self.set_font(FONT, size=7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_text}  |  page {self.page_no()} of {{nb}}", align="C")


class Sources:
    """Numbers each distinct URL in order of first use, for the reference list at the end."""

    def __init__(self):
        self.urls: list[str] = []

    def number(self, url: str) -> int:
        if url not in self.urls:
            self.urls.append(url)
        return self.urls.index(url) + 1

    def inline(self, text: str) -> str:
        """Markdown links become fpdf2 markdown links followed by their reference number."""
        text = _BARE_SOURCE.sub(lambda m: f" [{self.number(m.group(1))}]", text)
        return _LINK.sub(lambda m: f"[{m.group(1)}]({m.group(2)}) [{self.number(m.group(2))}]", text)


def blocks(markdown: str):
    """The few block kinds the overview uses: (kind, text) for headings, paragraphs, quotes and list items."""
    for chunk in re.split(r"\n\s*\n", markdown.strip()):
        lines = chunk.strip().splitlines()
        first = lines[0]
        if first.startswith("## "):
            yield "heading", first[3:].strip()
        elif first.startswith("> "):
            yield "quote", " ".join(line.lstrip("> ").strip() for line in lines)
        elif re.match(r"(- |\d+\. )", first):
            items: list[str] = []
            for line in lines:
                marker = re.match(r"(- |\d+\. )", line)
                if marker:
                    items.append(line)
                else:
                    items[-1] += " " + line.strip()
            for item in items:
                marker, text = item.split(" ", 1)
                yield "item", (marker if marker != "-" else "-", text.strip())
        else:
            yield "paragraph", " ".join(line.strip() for line in lines)


def build_pdf(source: Path = SOURCE) -> tuple[bytes, Path]:
    post = frontmatter.load(source)
    created = post["created"]
    pdf = Overview(format="letter", unit="mm")
    pdf.footer_text = f"{post['title']}  |  {post['author']}"
    pdf.set_creation_date(datetime.combine(created, time(12, 0), timezone.utc))
    pdf.set_title(post["title"])
    pdf.set_author(post["author"])
    pdf.set_subject(post["subtitle"])
    pdf.set_creator("scripts/build_overview_pdf.py")
    pdf.set_lang("en-US")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    width = pdf.epw

    pdf.set_fill_color(*BRAND)
    pdf.rect(0, 0, pdf.w, 30, style="F")
    pdf.set_xy(18, 8)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font(FONT, "B", 20)
    pdf.cell(width, 9, post["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10.5)
    pdf.cell(width, 6, post["subtitle"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(36)

    sources = Sources()
    for kind, value in blocks(post.content):
        pdf.set_text_color(*INK)
        if kind == "heading":
            pdf.ln(2.5)
            pdf.set_font(FONT, "B", 13.5)
            pdf.set_text_color(*BRAND)
            pdf.multi_cell(width, 6.5, value, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.8)
        elif kind == "quote":
            pdf.ln(1)
            pdf.set_fill_color(*WASH)
            pdf.set_draw_color(*BRAND)
            pdf.set_font(FONT, "B", 11.5)
            pdf.set_text_color(*BRAND)
            pdf.multi_cell(width, 7, sources.inline(value), fill=True, border="L", padding=(3, 4),
                           align="C", markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "item":
            marker, text = value
            pdf.set_font(FONT, size=10.5)
            pdf.set_x(pdf.l_margin + 2)
            pdf.cell(5, 5.4, "-" if marker == "-" else marker)
            pdf.multi_cell(width - 7, 5.4, sources.inline(text), markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        else:
            pdf.set_font(FONT, size=10.5)
            pdf.multi_cell(width, 5.4, sources.inline(value), markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.8)

    pdf.ln(1.5)
    pdf.set_font(FONT, "B", 13.5)
    pdf.set_text_color(*BRAND)
    pdf.multi_cell(width, 6.5, "Sources", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8.5)
    pdf.set_text_color(*INK)
    for number, url in enumerate(sources.urls, start=1):
        pdf.set_x(pdf.l_margin)
        pdf.cell(8, 4.4, f"[{number}]")
        pdf.multi_cell(width - 8, 4.4, url, link=url, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.6)
    return bytes(pdf.output()), (source.parent / post["output"]).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=SOURCE)
    args = parser.parse_args(argv)
    data, target = build_pdf(args.source)
    target.write_bytes(data)
    print(f"wrote {target} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
