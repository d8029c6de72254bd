"""The default content a journalist can check: every link goes to a page (not a home page), every figure has a
source beside it, no figure appears that the brief does not state, no page promises a missing feature, and
the two-page overview PDF is rebuilt byte for byte from its content file."""
import importlib.util
import re
from urllib.parse import urlsplit

import frontmatter
import pytest
from markdown_it import MarkdownIt
from pypdf import PdfReader

from tests.conftest import ROOT

CONTENT = ROOT / "content"
MARKDOWN_FILES = sorted(CONTENT.rglob("*.md"))
INITIATIVE = "https://www.policingproject.org/reimagining-public-safety"

# The exact source pages PRODUCT.md lists for each partner program ("Partner cities' programs").
PROGRAM_SOURCES = {
    "minneapolis-behavioral-crisis-response": [
        "https://thelocallens.org/minneapolis-city-council-committee-reviews-behavioral-crisis-response-program-amid-rising-call-volume",
        "https://www.minnpost.com/metro/2022/08/will-minneapolis-alternative-policing-pilots-become-permanent/"],
    "denver-star": [
        "https://www.denvergov.org/Government/Agencies-Departments-Offices/Agencies-Departments-Offices-Directory/"
        "Public-Health-Environment/Community-Behavioral-Health/Behavioral-Health-Strategies/"
        "Support-Team-Assisted-Response-STAR-Program",
        "https://www.wellpower.org/star-program/"],
    "san-francisco-street-crisis-response": [
        "https://sf.gov/street-crisis-response-team",
        "https://www.sfchronicle.com/opinion/editorials/article/san-francisco-street-crisis-response-police-17791405.php"],
    "chicago-care": [
        "https://www.chicago.gov/city/en/depts/cdph/provdrs/health_protection_and_response/news/2023/january/"
        "city-of-chicago-announces-expansion-of-alternative-911-response-.html",
        "https://www.chicago.gov/city/en/sites/community-safety/home/CARE-Dashboard.html"],
    "tucson-community-safety": [
        "https://policingproject.org/news-main/2024/1/19/"
        "tucson-community-safety-study-recommends-expanding-non-police-emergency-response-alternatives",
        "https://www.safetyreimagined.org/our-work/research-papers/tucsons-community-safety-response"],
}

COMMUNITY_OF_PRACTICE = "https://www.safetyreimagined.org"

# Every number PRODUCT.md states (besides years and the day of a date): anything else would be invented.
STATED_NUMBERS = {"911", "12", "20", "100", "6,666", "11,167", "14,230", "1", "7", "30"}
# A figure a reader would want to check: a count with thousands, a percentage, or "12 million".
FIGURE = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+ percent\b|\b\d+ million\b", re.I)

_md = MarkdownIt("commonmark")


def _strings(value):
    """Every string in a front matter value, nested ones too (an event's speakers)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _texts(path, *, nested: bool = False):
    """The prose of a content file: its body and every string in its front matter (with `nested`, the strings
    inside its lists and mappings too: topics, an event's speakers)."""
    post = frontmatter.load(path)
    values = post.metadata.values()
    return [post.content, *(_strings(list(values)) if nested else (v for v in values if isinstance(v, str)))]


def _blocks(markdown: str, *, headings: bool = True):
    """(text, hrefs) for every paragraph, list item and (unless told not to) heading."""
    tokens = _md.parse(markdown)
    for previous, token in zip([None, *tokens], tokens):
        if token.type == "inline" and (headings or previous.type != "heading_open"):
            hrefs = [child.attrs["href"] for child in token.children or [] if child.type == "link_open"]
            text = "".join(child.content for child in token.children or [] if child.type == "text")
            yield text, hrefs


def _links(path):
    return [href for text in _texts(path) for _, hrefs in _blocks(text) for href in hrefs]


def test_content_has_files_of_every_kind():
    kinds = {path.parent.name for path in MARKDOWN_FILES}
    assert {"pages", "resources", "jurisdictions", "overview", "events", "series"} <= kinds


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: str(p.relative_to(CONTENT)))
def test_every_outside_link_goes_to_a_page_never_a_home_page(path):
    """One exception: PRODUCT.md gives the community of practice's own site as the only source for its facts
    (the webinar series, the team and advisory board), and that site's front page is where they are stated."""
    raw = path.read_text()
    # Every URL in the file, linked or not, so a source pasted as text is checked too.
    urls = set(re.findall(r"https?://[^\s)\]>\"']+", raw)) | {h for h in _links(path) if "://" in h}
    for url in urls - {COMMUNITY_OF_PRACTICE}:
        parts = urlsplit(url)
        if _is_example(url):
            continue  # only an event's recording or joining address may be one: checked below
        assert parts.scheme == "https", f"{path.name}: {url} is not https"
        assert parts.path not in ("", "/"), f"{path.name}: {url} is a site's home page, not the source page"
        assert not re.fullmatch(r"p=\d+", parts.query), f"{path.name}: {url} is a shortlink, not the page's address"


# The default content has no real recording or joining addresses; an example one (RFC 2606) says so.
EXAMPLE_HOSTS = {"example.org", "example.com", "example.net"}
EVENT_FILES = sorted((CONTENT / "events").glob("*.md"))


def _is_example(url):
    host = urlsplit(url).hostname or ""
    return any(host == name or host.endswith("." + name) for name in EXAMPLE_HOSTS)


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: str(p.relative_to(CONTENT)))
def test_example_addresses_are_only_an_events_recording_or_joining_address(path):
    raw = path.read_text()
    urls = set(re.findall(r"https?://[^\s)\]>\"']+", raw)) | {h for h in _links(path) if "://" in h}
    examples = {url for url in urls if _is_example(url)}
    post = frontmatter.load(path)
    allowed = {post.get(key) for key in ("join_url", "recording_url")} if path in EVENT_FILES else set()
    assert examples <= allowed, f"{path.name}: example addresses outside join_url/recording_url: {examples - allowed}"
    if examples:
        # A reader must not take it for a real recording.
        assert "is an example address (example.org), not a real recording" in post.content, path.name


# An event that describes a partner program links every source PRODUCT.md gives for it.
PROGRAM_NAMES = {
    "minneapolis-behavioral-crisis-response": "Behavioral Crisis Response",
    "denver-star": "Support Team Assisted Response",
    "san-francisco-street-crisis-response": "Street Crisis Response Team",
    "chicago-care": "Crisis Assistance Response and Engagement",
    "tucson-community-safety": "Tucson's Community Safety Response and Service Portfolio",
}


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_events_about_a_partner_program_link_its_sources(path):
    post = frontmatter.load(path)
    links = _links(path)
    for slug, name in PROGRAM_NAMES.items():
        if name in post.content:
            for source in PROGRAM_SOURCES[slug]:
                assert source in links, f"{path.name} describes {name} without {source}"
            assert f"/resources/{slug}" in links, f"{path.name} does not link the {name} program model"


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_events_name_no_person_and_no_attendance(path):
    """No real person's name may be invented: speakers are the initiative's teams."""
    post = frontmatter.load(path)
    assert post["speakers"]
    for speaker in post["speakers"]:
        assert speaker["name"].endswith("team"), speaker
        assert speaker["organisation"] == "Policing Project at NYU School of Law", speaker
    assert not re.search(r"\b(attend(ed|ees|ance)|participants|registrants)\b", post.content, re.I), path.name


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: str(p.relative_to(CONTENT)))
def test_every_figure_has_a_source_beside_it(path):
    post = frontmatter.load(path)
    # Paragraphs and list items carry their figure's source; a heading only names what its section sources.
    for block, hrefs in _blocks(post.content, headings=False):
        if FIGURE.search(block):
            assert any("://" in href for href in hrefs), f"{path.name}: a figure without its source: {block!r}"
    # Front matter is plain text (titles, summaries on cards) with no room for a link: no figures there, only
    # the initiative's name.
    for key, value in post.metadata.items():
        if isinstance(value, str):
            assert not FIGURE.search(value.replace("12 Million Calls", "")), f"{path.name}: {key} states a figure"


def test_no_figure_appears_that_the_brief_does_not_state():
    unstated = {}
    for path in MARKDOWN_FILES:
        for text in _texts(path, nested=True):
            if re.fullmatch(r"https://\S+", text):
                continue  # an address in front matter (a program's page, its sources) is not a figure
            prose = re.sub(r"\]\([^)]*\)", "]", text)  # link targets are addresses, not figures
            prose = re.sub(r"^\s*\d+\.\s", "", prose, flags=re.M)  # ordered-list markers
            for number in re.findall(r"(?<!\w)(?:\d[\d,]*\d|\d)(?!\w)", prose):
                if number not in STATED_NUMBERS and not re.fullmatch(r"20[12]\d", number):
                    unstated.setdefault(path.name, set()).add(number)
    assert not unstated, f"figures the brief does not state (sample data must be flagged, better left out): {unstated}"


@pytest.mark.parametrize("slug", PROGRAM_SOURCES)
def test_program_models_link_each_source_the_brief_lists(slug):
    links = _links(CONTENT / "resources" / f"{slug}.md")
    for source in PROGRAM_SOURCES[slug]:
        assert source in links, f"{slug} does not link {source}"


def test_the_headline_figures_link_the_initiative_page():
    for name in ("pages/home.md", "pages/about.md", "resources/initiative-overview.md"):
        for text in _texts(CONTENT / name):
            for block, hrefs in _blocks(text):
                if "12 million" in block or "20 percent" in block:
                    assert INITIATIVE in hrefs, (name, block)


def test_san_francisco_team_is_described_as_the_brief_says():
    body = frontmatter.load(CONTENT / "resources" / "san-francisco-street-crisis-response.md").content
    launch, today = body.split("The city's current page", 1)
    assert "a community paramedic, a behavioral-health clinician and a peer specialist" in launch
    assert "a community paramedic and/or an EMT with a peer or street-team specialist" in today
    assert "peer counselor" not in body


def test_links_within_the_site_lead_to_pages_that_exist(library):
    client = library.test_client()
    internal = {href for path in MARKDOWN_FILES for href in _links(path) if href.startswith("/")}
    assert "/contact" in internal and "/resources" in internal
    for href in sorted(internal):
        assert client.get(href).status_code == 200, href


# What the site cannot do until the section exists: (the endpoint that would do it, words that promise it).
PROMISES = [
    ("events.index", ["register for webinar", "webinar registration", "upcoming webinars", "next events",
                      "invited to a regular webinar"]),
    ("jurisdictions.index", ["keep their own pages", "jurisdiction pages", "city dashboards", "report their metrics"]),
    ("network.index", ["member directory", "find other members"]),
    ("api.index", ["our api", "api token"]),
]


def test_no_page_promises_a_section_that_does_not_exist(library):
    client = library.test_client()
    paths = ["/", "/about", "/terms", "/privacy", "/contact",
             *(f"/resources/{path.stem}" for path in sorted((CONTENT / "resources").glob("*.md")))]
    pages = {path: client.get(path).get_data(as_text=True).lower() for path in paths}
    missing = [(endpoint, words) for endpoint, words in PROMISES if endpoint not in library.view_functions]
    for path, html in pages.items():
        for endpoint, words in missing:
            for word in words:
                assert word not in html, f"{path} promises {word!r} but {endpoint} does not exist"
        # The navigation shows a section only once it exists.
        for endpoint, href in [("events.index", 'href="/events"'), ("jurisdictions.index", 'href="/jurisdictions"')]:
            assert (href in html) == (endpoint in library.view_functions), (path, href)


# The two-page overview.
OVERVIEW_SOURCE = CONTENT / "overview" / "initiative-overview.md"
OVERVIEW_PDF = CONTENT / "resources" / "files" / "initiative-overview.pdf"


def _builder():
    spec = importlib.util.spec_from_file_location("build_overview_pdf", ROOT / "scripts" / "build_overview_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def overview_text():
    reader = PdfReader(OVERVIEW_PDF)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_the_overview_pdf_is_rebuilt_byte_for_byte_from_its_content_file():
    data, target = _builder().build_pdf(OVERVIEW_SOURCE)
    assert target == OVERVIEW_PDF.resolve()
    assert data == OVERVIEW_PDF.read_bytes(), "run scripts/build_overview_pdf.py and commit the PDF"
    assert data == _builder().build_pdf(OVERVIEW_SOURCE)[0]
    # The library resource attaches exactly this file.
    resource = frontmatter.load(CONTENT / "resources" / "initiative-overview.md")
    assert [(CONTENT / "resources" / name).resolve() for name in resource["files"]] == [OVERVIEW_PDF.resolve()]


def test_the_overview_is_two_pages_with_its_headings_arithmetic_and_sources(overview_text):
    pages, text = overview_text
    assert pages == 2
    flat = " ".join(text.split())
    headings = re.findall(r"^## (.+)$", OVERVIEW_SOURCE.read_text(), re.M)
    assert "What jurisdictions that join receive" in headings and "Where the 12 million comes from" in headings
    for heading in [*headings, "Sources"]:
        assert heading in flat, heading
    assert "100 largest US municipalities × the same 20 percent goal = about 12 million 911 calls a year" in flat
    for receives in ("Tailored research and policy support", "Connection to a national peer network",
                     "Access to proven policies and program models"):
        assert receives in flat
    # Long addresses wrap across lines: compare without whitespace.
    squeezed = "".join(text.split())
    sources = {href for href in _links(OVERVIEW_SOURCE) if "://" in href}
    assert INITIATIVE in sources and len(sources) >= 10
    for url in sources:
        assert url in squeezed, url


def test_the_overview_is_a_real_document_not_a_stub():
    reader = PdfReader(OVERVIEW_PDF)
    assert reader.metadata.title == "The 12 Million Calls Initiative"
    assert str(reader.metadata.creation_date.date()) == str(frontmatter.load(OVERVIEW_SOURCE)["created"])
    words = sum(len(page.extract_text().split()) for page in reader.pages)
    assert words > 700
    links = [annot.get_object()["/A"]["/URI"] for page in reader.pages for annot in page.get("/Annots", [])
             if "/A" in annot.get_object()]
    assert INITIATIVE in links
