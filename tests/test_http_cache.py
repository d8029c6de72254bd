"""HTTP caching: no cookie for anonymous readers, validators and 304s, cached renders, hashed static files."""
import re
from datetime import timedelta

import pytest

from portal import http_cache, search
from portal.database import utcnow
from portal.library import services
from portal.static_assets import IMMUTABLE
from tests.conftest import counted_queries, csrf_token, login, post_form, unit
from tests.test_access import Samples, sample_path

# GET pages whose form posts: they hand out a CSRF token, so they may set the session cookie.
FORM_PAGES = {"members.login", "members.signup", "members.reset_request", "library.unsubscribe", "initiative.join"}
# Pages with a validator that the default content reaches without arguments.
VALIDATED = ["/", "/resources", "/resources?q=crisis", "/feed.atom", "/sitemap.xml", "/about", "/robots.txt"]


def _public_get_paths(app) -> dict[str, str]:
    """endpoint -> a path an anonymous visitor can open, for every public GET route (samples from test_access)."""
    samples, paths = Samples(app), {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint != "static" and "GET" in rule.methods and getattr(view, "access_level", None) == "public":
            paths[rule.endpoint] = sample_path(samples, rule)
    return paths


def _publish(title: str, **fields):
    resource = services.create_resource(actor=None, title=title, type="toolkit", summary=f"{title}: summary",
                                        body=f"{title}, the body.", **fields)
    services.change_status(resource, action="publish", actor=None,
                           publish_at=fields.get("published_at") or utcnow() - timedelta(minutes=1))
    return resource


def _etag(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["ETag"].startswith('W/"'), f"{path}: a weak ETag"
    return response.headers["ETag"]


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch):
    """The validators' clock stands still unless a test moves it: a minute turning between two requests
    would change an ETag for a reason no test here is about."""
    moment = utcnow()
    monkeypatch.setattr(http_cache, "utcnow", lambda: moment)
    return moment


@pytest.fixture
def statements(app):
    """The SQL statements the app runs, as a list that grows while the test runs."""
    with counted_queries(app) as seen:
        yield seen


# --- cookies -------------------------------------------------------------------------------

def test_anonymous_get_pages_set_no_cookie_and_vary_on_cookie(library):
    paths = _public_get_paths(library)
    assert {"public.home", "library.search", "library.detail", "library.feed"} <= set(paths)
    for endpoint, path in sorted(paths.items()):
        response = library.test_client().get(path)  # a first visit: no cookie of any kind yet
        response.close()  # a file download holds its file open until then
        assert response.status_code < 500, path
        if endpoint in FORM_PAGES:
            continue
        assert "Set-Cookie" not in response.headers, f"{path} set {response.headers.get('Set-Cookie')}"
        # Signed in, the same address answers differently: every page says so to caches.
        assert "cookie" in response.headers.get("Vary", "").lower(), f"{path}: Vary {response.headers.get('Vary')}"


def test_form_pages_still_hand_out_a_token_and_csrf_is_enforced(app):
    for path in ("/login", "/signup", "/reset"):
        client = app.test_client()
        response = client.get(path)
        assert "session=" in response.headers.get("Set-Cookie", ""), path
        assert response.headers.get("Cache-Control") == http_cache.PRIVATE, path
        assert re.search(r'<meta name="csrf-token" content="[^"]+"', response.get_data(as_text=True)), path
    client = app.test_client()
    token = csrf_token(client)
    assert client.post("/login", data={"email": "a@example.org", "password": "x" * 12}).status_code == 400
    assert client.post("/login", data={"csrf_token": token + "x", "email": "a@example.org",
                                       "password": "x" * 12}).status_code == 400
    answer = client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "x" * 12})
    assert "The email or password is not correct." in answer.get_data(as_text=True)  # past CSRF, to the password


def test_reading_pages_carry_no_token(library):
    for path in VALIDATED:
        html = library.test_client().get(path).get_data(as_text=True)
        assert 'name="csrf-token"' not in html and 'name="csrf_token"' not in html, path


def test_sign_in_works_after_anonymous_reading(app, member):
    client = app.test_client()
    client.get("/")
    client.get("/resources")
    login(client, member)
    assert client.get("/account").status_code == 200


# --- validators ----------------------------------------------------------------------------

def test_public_pages_answer_304_to_their_validator(library):
    client = library.test_client()
    for path in VALIDATED:
        response = client.get(path)
        assert response.headers["Cache-Control"] == http_cache.PUBLIC, path
        etag = response.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", path
        assert again.headers["ETag"] == etag and "Cookie" in again.headers.get("Vary", ""), path
        assert client.get(path, headers={"If-None-Match": 'W/"something-else"'}).status_code == 200, path


def test_if_modified_since_on_the_feed_and_a_resource_page(library):
    client = library.test_client()
    with unit(library):
        slug = next(r.slug for r in services.newest_resources(limit=20) if r.access == "public")
    for path in ("/feed.atom", f"/resources/{slug}"):
        response = client.get(path)
        modified = response.headers["Last-Modified"]
        assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304, path
        assert client.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200


def test_304_needs_no_rendering(library, statements):
    client = library.test_client()
    etag = _etag(client, "/resources/journalists-toolkit")
    statements.clear()
    assert client.get("/resources/journalists-toolkit", headers={"If-None-Match": etag}).status_code == 304
    assert len(statements) <= 1, statements  # the validator at most (it is reused for a second), nothing else


def test_a_validator_is_reused_for_a_second_then_read_again(library, statements, monkeypatch, steady_clock):
    client = library.test_client()
    client.get("/feed.atom")
    statements.clear()
    client.get("/feed.atom")
    assert statements == []  # within the second: neither the validator nor the page needed the database
    later = steady_clock + timedelta(seconds=2)
    monkeypatch.setattr(http_cache, "utcnow", lambda: later)
    client.get("/feed.atom")
    # Read again (then the page too, if the minute turned meanwhile): another process's change shows.
    assert statements and "(SELECT count(*) FROM resources)" in statements[0], statements


def test_an_edit_changes_every_page_that_shows_it(library):
    client = library.test_client()
    with unit(library):
        resource = _publish("Crisis line toolkit")
        slug = resource.slug
    paths = ["/", "/resources", "/resources?q=crisis", "/feed.atom", "/sitemap.xml", f"/resources/{slug}"]
    before = {path: _etag(client, path) for path in paths}
    with unit(library):
        services.update_resource(services.get_resource_by_slug(slug), actor=None, title="Crisis line toolkit, 2nd ed.")
    for path in paths:
        response = client.get(path, headers={"If-None-Match": before[path]})
        assert response.status_code == 200, f"{path} still 304 after the edit"
        assert response.headers["ETag"] != before[path], path
    assert "2nd ed." in client.get(f"/resources/{slug}").get_data(as_text=True)
    assert "2nd ed." in client.get("/feed.atom").get_data(as_text=True)


def test_publishing_changes_the_listings(library):
    client = library.test_client()
    before = {path: _etag(client, path) for path in ("/", "/resources", "/feed.atom")}
    with unit(library):
        _publish("Brand new program model")
    for path, etag in before.items():
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 200, path
    assert "Brand new program model" in client.get("/feed.atom").get_data(as_text=True)


def test_a_search_page_changes_when_only_the_index_does(library, monkeypatch, steady_clock):
    """The minutely sync adds a newly due document without any row changing: the search's ETag follows the
    index's generation (read again once the validator's second of reuse is over)."""
    client = library.test_client()
    before = _etag(client, "/resources?q=crisis")
    with unit(library):
        search.rebuild()
    later = steady_clock + timedelta(seconds=2)
    monkeypatch.setattr(http_cache, "utcnow", lambda: later)
    response = client.get("/resources?q=crisis", headers={"If-None-Match": before})
    assert response.status_code == 200 and response.headers["ETag"] != before


def test_a_scheduled_resource_changes_the_validator_when_its_moment_passes(library, monkeypatch):
    client = library.test_client()
    soon = utcnow() + timedelta(hours=2)
    with unit(library):
        _publish("Scheduled guide", published_at=soon)
    now_etag = _etag(client, "/feed.atom")
    assert _etag(client, "/feed.atom") == now_etag  # stable while nothing happens
    monkeypatch.setattr(http_cache, "utcnow", lambda: soon + timedelta(seconds=1))
    later = client.get("/feed.atom", headers={"If-None-Match": now_etag})
    assert later.status_code == 200 and later.headers["ETag"] != now_etag


def test_hidden_resources_are_not_validated(library, staff):
    with unit(library):
        draft = services.create_resource(actor=None, title="Draft policy", type="policy")
        slug = draft.slug
    client = library.test_client()
    response = client.get(f"/resources/{slug}", headers={"If-None-Match": "*"})
    assert response.status_code == 404 and "ETag" not in response.headers
    login(client, staff)
    assert client.get(f"/resources/{slug}").status_code == 200  # staff preview, rendered


def test_signed_in_pages_are_private_and_never_304(library, member):
    anonymous = library.test_client()
    etag = _etag(anonymous, "/")
    client = library.test_client()
    login(client, member)
    response = client.get("/", headers={"If-None-Match": etag})
    assert response.status_code == 200 and "ETag" not in response.headers
    assert response.headers["Cache-Control"] == http_cache.PRIVATE
    assert "Sign out" in response.get_data(as_text=True)


def test_a_members_only_page_opens_to_everyone_on_its_date(library, monkeypatch):
    client = library.test_client()
    before = _etag(client, "/resources/call-categories-guide")
    assert "Members can read this resource" in client.get("/resources/call-categories-guide").get_data(as_text=True)
    opened = utcnow().replace(year=2027, month=7, day=1)  # members_until: 2027-06-30 in content/
    monkeypatch.setattr(http_cache, "utcnow", lambda: opened)
    assert client.get("/resources/call-categories-guide", headers={"If-None-Match": before}).status_code == 200


def test_a_member_reads_what_the_anonymous_cache_holds_back(library, member):
    anonymous = library.test_client()
    for _ in range(2):  # rendered, then served from memory
        assert "Members can read this resource" in anonymous.get("/resources/call-categories-guide").get_data(
            as_text=True)
    client = library.test_client()
    login(client, member)
    html = client.get("/resources/call-categories-guide").get_data(as_text=True)
    assert "Members can read this resource" not in html and "Sign out" in html


# --- rendered pages kept in memory ---------------------------------------------------------

def test_a_second_anonymous_read_runs_only_the_validator(library, statements):
    client = library.test_client()
    for path in VALIDATED[:4]:
        first = client.get(path)
        statements.clear()
        second = client.get(path)
        assert second.data == first.data and second.status_code == 200, path
        assert len(statements) <= 1, (path, statements)


def test_a_message_for_this_visitor_is_never_served_from_the_cache(library, member):
    client = library.test_client()
    library.test_client().get("/")  # the anonymous home page is now cached
    login(client, member)
    response = post_form(client, "/logout", token_from="/account", follow_redirects=True)
    assert "You are signed out" in response.get_data(as_text=True)
    assert "You are signed out" not in client.get("/").get_data(as_text=True)  # shown once


def test_a_page_with_a_form_for_the_visitor_is_never_shared(app):
    from flask import render_template_string

    from portal.forms import EmptyForm

    @app.route("/with-a-form")
    def with_a_form():
        return render_template_string('<!DOCTYPE html><html lang="en"><head><title>A form</title></head><body>'
                                      '<form method="post">{{ form.csrf_token() }}<button>Go</button></form>'
                                      '</body></html>', form=EmptyForm())

    http_cache.VALIDATORS["with_a_form"] = lambda view_args, now: http_cache.Validator(("same for all",))
    answers = []
    try:
        for _ in range(2):
            client = app.test_client()
            csrf_token(client)  # the visitor already has a session: this page sets no cookie of its own
            answers.append(client.get("/with-a-form"))
    finally:
        del http_cache.VALIDATORS["with_a_form"]
    for response in answers:
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == http_cache.PRIVATE and "ETag" not in response.headers
    assert answers[0].data != answers[1].data  # each visitor their own token: nothing was kept and handed on


def test_the_page_cache_is_bounded():
    cache = http_cache.PageCache(size=2)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.get("a") is None and cache.get("c") == "C"


# --- static files --------------------------------------------------------------------------

def test_static_files_have_hashed_names_cached_for_a_year(app):
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
    assert css, "the stylesheet link has no content hash"
    response = client.get(css.group(1))
    assert response.status_code == 200 and response.headers["Cache-Control"] == IMMUTABLE
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    plain = client.get("/static/css/site.css")
    assert response.data == plain.data and "immutable" not in plain.headers["Cache-Control"]
    old = client.get("/static/css/site.000000000000.css")  # a page from before a deploy
    assert old.status_code == 200 and "immutable" not in old.headers["Cache-Control"]
    for answer in (response, plain, old):
        answer.close()
    assert client.get("/static/css/nothing.000000000000.css").status_code == 404


def test_static_names_follow_the_contents(app):
    with app.test_request_context():
        from flask import url_for

        name = url_for("static", filename="favicon.svg")
        assert re.fullmatch(r"/static/favicon\.[0-9a-f]{12}\.svg", name)
        assert url_for("static", filename="favicon.svg") == name  # computed once, the same every time
        assert url_for("static", filename="no-such-file.css") == "/static/no-such-file.css"


def test_member_pages_keep_their_tokens(app, member):
    client = app.test_client()
    login(client, member)
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<meta name="csrf-token" content="[^"]+"', html)
    assert post_form(client, "/logout", token_from="/").status_code == 302
