"""Arbitrary text in every field of every form: never a 5xx, and bad input leaves nothing half-saved.

Each form's fields are read from its WTForms class, so a field added later is fuzzed too.
Each example starts from a valid submission and replaces a random subset of the fields with
arbitrary text (control characters, any Unicode but surrogates, up to ~5000 characters), or
leaves them out; the test first proves that the valid submission itself succeeds, so the
fuzzing exercises the code behind validation and not only the validators.
"""
import importlib
import inspect
import io
import itertools
import random
from datetime import timedelta
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from wtforms import BooleanField, DateTimeField, EmailField, FileField, SelectMultipleField

from portal import search
from portal.database import utcnow
from portal.extensions import db, limiter
from portal.library import services as library
from portal.library import suggestions
from portal.library.forms import (AlertPicksForm, DecisionForm, ResourceForm, StatusForm, SuggestionForm,
                                  UploadForm)
from portal.library.models import Attachment, Resource, SavedSearch, Suggestion
from portal.members import services as members
from portal.forms import EmptyForm
from portal.members.forms import (ChangeEmailForm, ChangePasswordForm, DeleteAccountForm, LoginForm,
                                  ProfileForm, ResetPasswordForm, ResetRequestForm, SignupForm)
from portal.members.models import Member
from portal.staff.forms import RoleForm
from tests.conftest import create_member, csrf_token, link_path, login, Outbox, PASSWORD, unit

FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Forms fuzzed below, by class. A form of a registered blueprint missing here fails
# test_every_form_is_fuzzed: add a test for it.
FUZZED_FORMS = {SignupForm, LoginForm, ResetRequestForm, ResetPasswordForm, ProfileForm, ChangePasswordForm,
                ChangeEmailForm, DeleteAccountForm, RoleForm, EmptyForm,
                ResourceForm, StatusForm, UploadForm, SuggestionForm, DecisionForm, AlertPicksForm}

OTHER_PASSWORD = "a different unusual passphrase 8"

# --- strategies ----------------------------------------------------------------------------

# st.text() draws from every code point except surrogates (which HTTP cannot carry), control
# characters included; the printable kind gets past the validators and into the database.
PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc"))
TEXT = st.one_of(
    st.text(max_size=60),
    st.text(PRINTABLE, max_size=60),
    st.text(PRINTABLE, min_size=12, max_size=300),
    st.text(min_size=100, max_size=400),
    st.text(min_size=1, max_size=40).map(lambda s: (s * (5000 // len(s) + 1))[:5000]),
)
EMAILISH = st.builds(lambda local, domain: f"{local}@{domain}",
                     st.one_of(st.text(min_size=1, max_size=70), st.text(PRINTABLE, min_size=1, max_size=70)),
                     st.one_of(st.text(min_size=1, max_size=70), st.just("example.org"), st.just("exämple.org")))
OMIT = object()
VALID = object()
DATES = st.one_of(
    st.dates().map(lambda d: d.strftime("%Y-%m-%d")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    st.sampled_from(["0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59", "2024-02-30"]),
)
FILES = st.builds(
    lambda head, body, name, ext: (io.BytesIO(head + body), name + ext),
    st.sampled_from([b"", b"%PDF-1.4\n", b"PK\x03\x04", b"a,b,c\n1,2,3\n", b"\xef\xbb\xbf"]),
    st.binary(max_size=2000),
    # Browsers escape these three in a multipart file name; the test client cannot.
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='\r\n"'), max_size=80),
    st.sampled_from(["", ".pdf", ".docx", ".xlsx", ".pptx", ".csv", ".exe", ".PDF"]),
)


def _choice_values(field) -> list[str]:
    return [choice[0] if isinstance(choice, tuple) else choice.value for choice in field.iter_choices()]


def _field_strategy(field):
    """Arbitrary text for any field, plus what its type makes likely to get further."""
    if isinstance(field, FileField):
        return FILES
    if isinstance(field, EmailField):
        return st.one_of(TEXT, EMAILISH)
    if isinstance(field, BooleanField):
        return st.one_of(TEXT, st.sampled_from(["y", "", "false", "0"]))
    if isinstance(field, DateTimeField):  # dates and datetime-local too
        return st.one_of(TEXT, DATES)
    if hasattr(field, "iter_choices"):
        values = _choice_values(field)
        one = st.one_of(TEXT, st.sampled_from(values)) if values else TEXT
        if isinstance(field, SelectMultipleField):
            return st.lists(one, max_size=4)
        return one
    return TEXT


def form_fields(app, form_class) -> dict:
    """Field name as posted (with the form's prefix) -> (short name, field), CSRF token aside. `form_class`
    is a form class, or a function making the form (one whose choices are built for a page)."""
    with app.test_request_context():
        form = form_class(formdata=None, meta={"csrf": False}) if isinstance(form_class, type) else form_class()
        return {field.name: (field.short_name, field) for field in form if field.type != "CSRFTokenField"}


@st.composite
def payloads(draw, fields: dict, valid: dict):
    """A valid submission with a non-empty random subset of fields replaced by fuzz or left out.

    Returns {posted name: value} where VALID marks fields to take from the example's valid values.
    """
    unknown = set(valid) - {short for short, _ in fields.values()}
    assert not unknown, f"valid values for fields the form does not have: {unknown}"
    names = sorted(fields)
    fuzzed = draw(st.sets(st.sampled_from(names), min_size=1)) if names else set()
    payload = {}
    for name in names:
        short, field = fields[name]
        if name in fuzzed or short not in valid:
            value = draw(st.one_of(_field_strategy(field), st.just(OMIT)))
            if value is not OMIT:
                payload[name] = value
        else:
            payload[name] = VALID
    return payload


def resolve(payload: dict, fields: dict, valid: dict) -> dict:
    return {name: (valid[fields[name][0]] if value is VALID else value) for name, value in payload.items()}


# --- helpers -------------------------------------------------------------------------------

def fresh_limits(app):
    # Rate limits answer 429 (fine), but would stop the examples reaching the forms at all.
    with unit(app):
        limiter.reset()


def post(client, path, data, token):
    return client.post(path, data={"csrf_token": token, **data})


def fuzz_form(app, client, token, path, fields, valid, *, state, statuses=(200, 302, 400),
              csrf_field="csrf_token"):
    """Post fuzzed versions of `valid` to one form: never a 500, only `statuses`, and a 400 leaves what
    `state(app)` reads as it was (nothing half saved). `csrf_field` is the token's name (a prefixed form's)."""
    @FUZZ
    @given(payload=payloads(fields, valid))
    def run(payload):
        fresh_limits(app)
        data = resolve(payload, fields, valid)
        before = state(app)
        response = client.post(path, data={csrf_field: token, **data})
        no_server_error(response, data)
        assert response.status_code in statuses, (response.status_code, data)
        if response.status_code == 400:
            assert state(app) == before, f"a refused form saved something: {data}"

    run()


def count_members(app) -> int:
    with unit(app):
        return db.session.scalar(select(func.count()).select_from(Member))


def snapshot(app, member_id) -> dict | None:
    with unit(app):
        member = db.session.get(Member, member_id)
        if member is None:
            return None
        return {column.key: getattr(member, column.key) for column in Member.__table__.columns}


def member_by_email(app, email):
    with unit(app):
        return db.session.scalar(select(Member.id).where(Member.email == email))


def no_server_error(response, what):
    event(f"HTTP {response.status_code}")  # see them with --hypothesis-show-statistics
    assert response.status_code < 500, f"{what}: {response.status_code}\n{response.get_data(as_text=True)[:2000]}"


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(v) for v in value)
    return False


def expect(response, statuses, sent):
    """One of `statuses`, or 400 when what was sent holds NUL (the portal refuses NUL anywhere)."""
    assert response.status_code in statuses or (response.status_code == 400 and has_nul(sent)), \
        f"{response.status_code} for {sent!r}"[:2000]


def assert_same_site_redirect(response):
    location = response.headers.get("Location", "")
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost") and parts.scheme in ("", "http", "https"), location
    assert parts.path.startswith("/") and not parts.path.startswith("//"), location


def no_control_characters(row: dict):
    for key, value in row.items():
        if isinstance(value, str):
            assert not any(ord(c) < 32 or ord(c) == 127 for c in value), f"{key} stored with control characters"


def signed_in(app, email, **how):
    create_member(app, email=email, **how)
    client = app.test_client()
    login(client, email)
    return client, csrf_token(client, "/account")


# --- sign-up, sign-in, reset ------------------------------------------------------------------

SIGNUP_VALID = {"name": "Fuzz Person", "password": PASSWORD, "organisation": "Fuzz Org", "title": "Lead",
                "sector": "researcher", "jurisdiction": "Denver", "wants_alerts": "y", "consent": "y"}


def test_signup_fuzz(app):
    fields = form_fields(app, SignupForm)
    counter = itertools.count()

    def valid():
        return dict(SIGNUP_VALID, email=f"fuzz{next(counter)}@example.org")

    client = app.test_client()
    token = csrf_token(client, "/signup")
    before = count_members(app)
    baseline = post(client, "/signup", valid(), token)
    assert baseline.status_code == 200 and count_members(app) == before + 1, "the valid sign-up must work"

    @FUZZ
    @given(payload=payloads(fields, SIGNUP_VALID | {"email": ""}))
    def run(payload):
        fresh_limits(app)
        values = valid()
        data = resolve(payload, fields, values)
        before = count_members(app)
        response = post(client, "/signup", data, token)
        no_server_error(response, data)
        after = count_members(app)
        if response.status_code == 200:
            assert after in (before, before + 1)  # the same page for an address already taken
            if after == before + 1:
                with unit(app):
                    newest = db.session.scalar(select(Member).order_by(Member.id.desc()).limit(1))
                    row = {column.key: getattr(newest, column.key) for column in Member.__table__.columns}
                no_control_characters(row)
                assert row["email"] == row["email"].lower()
                assert row["password_hash"].startswith("$argon2id$")
        else:
            assert 400 <= response.status_code < 500, response.status_code
            assert after == before, "a refused sign-up stored a member"

    run()


def test_login_fuzz(app, member):
    fields = form_fields(app, LoginForm)
    valid = {"email": member, "password": PASSWORD, "remember": "y", "next": "/account"}
    baseline = app.test_client()
    assert post(baseline, "/login", valid, csrf_token(baseline)).status_code == 302, "the valid sign-in must work"

    @FUZZ
    @given(payload=payloads(fields, valid))
    def run(payload):
        fresh_limits(app)
        client = app.test_client()
        data = resolve(payload, fields, valid)
        response = post(client, "/login", data, csrf_token(client))
        no_server_error(response, data)
        assert response.status_code in (302, 400, 429), response.status_code
        if response.status_code == 302:
            assert_same_site_redirect(response)
            assert data.get("password") == PASSWORD
        else:
            assert client.get("/account").status_code == 302, "a refused sign-in signed someone in"

    run()


def test_login_next_argument_fuzz(client):
    @FUZZ
    @given(target=TEXT)
    def run(target):
        response = client.get("/login", query_string={"next": target})
        no_server_error(response, target)
        expect(response, (200,), target)

    run()


def test_reset_request_fuzz(app, member, outbox):
    fields = form_fields(app, ResetRequestForm)
    valid = {"email": member}
    client = app.test_client()
    token = csrf_token(client, "/reset")
    assert post(client, "/reset", valid, token).status_code == 200 and outbox.messages(member)

    @FUZZ
    @given(payload=payloads(fields, valid))
    def run(payload):
        fresh_limits(app)
        data = resolve(payload, fields, valid)
        sent = len(outbox.messages())
        response = post(client, "/reset", data, token)
        no_server_error(response, data)
        assert response.status_code in (200, 400, 429), response.status_code
        new = outbox.messages()[sent:]
        assert all(message["To"] == member for message in new), "a reset link went to an address with no account"
        if response.status_code != 200:
            assert not new

    run()


def test_reset_with_token_fuzz(app, member, outbox):
    fields = form_fields(app, ResetPasswordForm)
    valid = {"password": OTHER_PASSWORD}
    member_id = member_by_email(app, member)
    client = app.test_client()
    token = csrf_token(client, "/reset")

    def fresh_link():
        with unit(app):
            members.request_password_reset(email=member)
        return link_path(Outbox.link(outbox.last(member)))

    assert post(client, fresh_link(), valid, token).status_code == 302, "the valid reset must work"

    @FUZZ
    @given(payload=payloads(fields, valid), bad_token=st.one_of(st.none(), TEXT))
    def run(payload, bad_token):
        fresh_limits(app)
        path = fresh_link() if bad_token is None else "/reset/" + quote(bad_token, safe="")
        data = resolve(payload, fields, valid)
        before = snapshot(app, member_id)
        response = post(client, path, data, token)
        no_server_error(response, (path, data))
        after = snapshot(app, member_id)
        if response.status_code == 302:
            assert bad_token is None
            assert urlsplit(response.headers["Location"]).path == "/login"
            assert after["password_hash"] != before["password_hash"]
            assert after["session_token"] != before["session_token"]
        else:
            assert 400 <= response.status_code < 500, response.status_code
            assert after == before, "a refused reset changed the member"

    run()


def test_link_tokens_fuzz(client):
    @FUZZ
    @given(token=TEXT, prefix=st.sampled_from(["/verify/", "/reset/"]))
    def run(token, prefix):
        response = client.get(prefix + quote(token, safe=""))
        no_server_error(response, token)
        assert 400 <= response.status_code < 500 or response.status_code in (200, 302, 308)

    run()


def test_csrf_token_field_fuzz(client):
    client.get("/login")

    @FUZZ
    @given(token=TEXT)
    def run(token):
        response = client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "x"})
        assert response.status_code == 400

    run()


# --- the account page ------------------------------------------------------------------------

PROFILE_VALID = {"name": "Maya Member", "organisation": "Org", "title": "Lead", "sector": "advocate",
                 "jurisdiction": "Denver", "wants_alerts": "y"}


def test_profile_fuzz(app):
    fields = form_fields(app, ProfileForm)
    client, token = signed_in(app, "profile@example.org")
    member_id = member_by_email(app, "profile@example.org")
    assert post(client, "/account", PROFILE_VALID, token).status_code == 302, "the valid profile must save"

    @FUZZ
    @given(payload=payloads(fields, PROFILE_VALID))
    def run(payload):
        data = resolve(payload, fields, PROFILE_VALID)
        before = snapshot(app, member_id)
        response = post(client, "/account", data, token)
        no_server_error(response, data)
        after = snapshot(app, member_id)
        if response.status_code == 302:
            assert after["name"] == " ".join(data["name"].split())
            assert after["sector"] == data["sector"]
            no_control_characters(after)
        else:
            assert response.status_code == 400, response.status_code
            assert after == before, "a refused profile edit changed the member"

    run()


def test_change_password_fuzz(app):
    fields = form_fields(app, ChangePasswordForm)
    client, token = signed_in(app, "password@example.org")
    member_id = member_by_email(app, "password@example.org")
    valid = {"current_password": PASSWORD, "new_password": OTHER_PASSWORD}
    assert post(client, "/account/password", valid, token).status_code == 302, "the valid change must work"
    current = {"password": OTHER_PASSWORD}

    @FUZZ
    @given(payload=payloads(fields, {"current_password": "", "new_password": ""}),
           new=st.sampled_from([OTHER_PASSWORD, PASSWORD]))
    def run(payload, new):
        data = resolve(payload, fields, {"current_password": current["password"], "new_password": new})
        before = snapshot(app, member_id)
        response = post(client, "/account/password", data, token)
        no_server_error(response, data)
        after = snapshot(app, member_id)
        if response.status_code == 302:
            assert data["current_password"] == current["password"]
            assert after["password_hash"] != before["password_hash"]
            assert after["session_token"] != before["session_token"]
            current["password"] = data["new_password"]
            assert client.get("/account").status_code == 200, "the session that changed it stays signed in"
        else:
            assert response.status_code == 400, response.status_code
            assert after == before, "a refused password change changed the member"

    run()


def test_change_email_fuzz(app, outbox):
    fields = form_fields(app, ChangeEmailForm)
    client, token = signed_in(app, "email@example.org")
    member_id = member_by_email(app, "email@example.org")
    counter = itertools.count()
    valid = {"email-new_email": "first-new@example.org", "email-password": PASSWORD}
    assert post(client, "/account/email", valid, token).status_code == 302, "the valid change must work"

    @FUZZ
    @given(payload=payloads(fields, {"new_email": "", "password": ""}))
    def run(payload):
        fresh_limits(app)
        data = resolve(payload, fields, {"new_email": f"new{next(counter)}@example.org", "password": PASSWORD})
        before = snapshot(app, member_id)
        sent = len(outbox.messages())
        response = post(client, "/account/email", data, token)
        no_server_error(response, data)
        after = snapshot(app, member_id)
        if response.status_code == 302:
            assert after["pending_email"] and after["pending_email"] != before["email"]
            assert after["email"] == before["email"], "the address changes only when the link is opened"
            assert outbox.last()["To"] == after["pending_email"]
        else:
            assert 400 <= response.status_code < 500, response.status_code
            assert after == before, "a refused email change changed the member"
            assert len(outbox.messages()) == sent

    run()


def test_delete_account_fuzz(app):
    fields = form_fields(app, DeleteAccountForm)
    client, token = signed_in(app, "delete@example.org")
    member_id = member_by_email(app, "delete@example.org")

    @FUZZ
    @given(payload=payloads(fields, {}))
    def run(payload):
        data = resolve(payload, fields, {})
        assume(PASSWORD not in data.values())
        before = snapshot(app, member_id)
        response = post(client, "/account/delete", data, token)
        no_server_error(response, data)
        assert response.status_code == 400, response.status_code
        assert snapshot(app, member_id) == before, "a refused deletion changed the member"

    run()
    # The harness is sound: the right password does delete.
    response = post(client, "/account/delete", {"delete-password": PASSWORD}, token)
    assert response.status_code == 302 and snapshot(app, member_id) is None


def test_resend_verification_next_fuzz(app):
    client, token = signed_in(app, "unverified@example.org", verified=False)

    @FUZZ
    @given(target=st.one_of(TEXT, st.just("/account")))
    def run(target):
        fresh_limits(app)
        response = post(client, "/verify/resend", {"next": target}, token)
        no_server_error(response, target)
        expect(response, (302, 429), target)
        if response.status_code == 302:
            assert_same_site_redirect(response)

    run()


# --- staff -----------------------------------------------------------------------------------

def test_staff_role_form_fuzz(app):
    fields = form_fields(app, RoleForm)
    client, token = signed_in(app, "admin@example.org", role="admin")
    target = create_member(app, email="target@example.org", name="Tara Target")
    response = client.post(f"/staff/members/{target}/role", data={"csrf_token": token, "role": "staff"})
    assert response.status_code == 302 and snapshot(app, target)["role"] == "staff", "the valid change must work"

    @FUZZ
    @given(payload=payloads(fields, {"role": ""}), role=st.sampled_from(["staff", "member"]),
           member_id=st.one_of(st.just(target), st.just(target), st.integers(), TEXT), q=st.one_of(st.none(), TEXT))
    def run(payload, role, member_id, q):
        data = resolve(payload, fields, {"role": role})
        path = f"/staff/members/{quote(str(member_id), safe='')}/role"
        before = snapshot(app, target)
        response = client.post(path, data={"csrf_token": token, **data},
                               query_string={"q": q} if q is not None else None)
        no_server_error(response, (path, data, q))
        after = snapshot(app, target)
        if member_id != target:
            assert after == before
        elif data.get("role") in ("staff", "member") and response.status_code in (302, 303):
            assert after["role"] == data["role"]
        else:
            assert after["role"] == before["role"], "a refused role change changed the role"
        if 300 <= response.status_code < 400:
            assert_same_site_redirect(response)

    run()


def test_staff_member_search_fuzz(app):
    client, _ = signed_in(app, "admin@example.org", role="admin")

    @FUZZ
    @given(q=st.one_of(st.none(), TEXT), page=st.one_of(st.none(), TEXT, st.integers().map(str)))
    def run(q, page):
        args = {key: value for key, value in {"q": q, "page": page}.items() if value is not None}
        response = client.get("/staff/members", query_string=args)
        no_server_error(response, args)
        expect(response, (200,), args)

    run()


def test_staff_audit_log_fuzz(app):
    client, _ = signed_in(app, "staff@example.org", role="staff")

    @FUZZ
    @given(action=st.one_of(st.none(), TEXT, st.just("member.role_changed")),
           page=st.one_of(st.none(), TEXT, st.integers().map(str)))
    def run(action, page):
        args = {key: value for key, value in {"action": action, "page": page}.items() if value is not None}
        response = client.get("/staff/audit", query_string=args)
        no_server_error(response, args)
        expect(response, (200,), args)

    run()


@pytest.mark.parametrize("path", ["/logout", "/verify/resend"])
def test_empty_forms_ignore_arbitrary_extra_fields(app, path):
    client, token = signed_in(app, "extra@example.org")

    @FUZZ
    @given(extra=st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: k != "csrf_token"), TEXT,
                                 max_size=4))
    def run(extra):
        fresh_limits(app)
        response = client.post(path, data={"csrf_token": token, **extra})
        no_server_error(response, extra)
        expect(response, (302, 429), extra)

    run()


# --- the library --------------------------------------------------------------------------------

def fresh_entropy():
    # Whoosh names new index segments with the global `random`, which Hypothesis re-seeds to the
    # same value for every example: without fresh entropy two examples write same-named segments.
    random.seed()


def make_resource(app, **fields) -> int:
    with unit(app):
        resource = library.create_resource(actor=None, **{"title": "A fuzz toolkit", "type": "toolkit", **fields})
        library.change_status(resource, action="publish", actor=None, publish_at=utcnow() - timedelta(minutes=5))
        return resource.id


def resource_row(app, resource_id) -> dict | None:
    with unit(app):
        db.session.expire_all()
        resource = db.session.get(Resource, resource_id)
        if resource is None:
            return None
        row = {column.key: getattr(resource, column.key) for column in Resource.__table__.columns}
        row["attachments"] = sorted(a.id for a in resource.attachments)
        return row


def count(app, model) -> int:
    with unit(app):
        return db.session.scalar(select(func.count()).select_from(model))


def index_in_step(app):
    with unit(app):
        report = search.compare()
    assert report.ok, f"search index out of step with the database: {report}"


SEARCH_ARGS = ("q", "type", "audience", "topic", "jurisdiction", "year", "sort", "page")


@pytest.mark.parametrize("who", ["anonymous", "verified member"])
def test_library_search_and_feed_args_fuzz(app, who):
    make_resource(app, summary="Dispatch and mental health", topics=["dispatch", "mental health"],
                  audiences=["advocates"])
    if who == "anonymous":
        client = app.test_client()
    else:
        client, _ = signed_in(app, "reader@example.org")

    @FUZZ
    @given(args=st.dictionaries(st.sampled_from(SEARCH_ARGS),
                                st.one_of(TEXT, st.sampled_from(["dispatch", "toolkit", "newest", "2", "*"]),
                                          st.lists(TEXT, max_size=3)), max_size=5),
           feed=st.booleans())
    def run(args, feed):
        response = client.get("/resources/feed.atom" if feed else "/resources", query_string=args)
        no_server_error(response, args)
        expect(response, (200,), args)
        if feed and response.status_code == 200:
            ElementTree.fromstring(response.get_data())  # well-formed XML, whatever was typed

    run()


RESOURCE_VALID = {"title": "", "slug": "", "summary": "A short summary.", "body": "Some *Markdown*.",
                  "type": "toolkit", "audiences": ["advocates"], "topics": "dispatch, mental health",
                  "jurisdiction": "", "external_url": "https://example.org/toolkit", "author": "The team",
                  "access": "public", "members_until": "", "is_featured": "", "published_at": ""}


def test_new_resource_fuzz(app):
    fields = form_fields(app, ResourceForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    counter = itertools.count()

    def valid():
        return dict(RESOURCE_VALID, title=f"Fuzz toolkit {next(counter)}")

    before = count(app, Resource)
    assert post(client, "/staff/resources/new", valid(), token).status_code == 302, "the valid draft must save"
    assert count(app, Resource) == before + 1

    @FUZZ
    @given(payload=payloads(fields, RESOURCE_VALID), preview=st.booleans())
    def run(payload, preview):
        fresh_entropy()
        data = resolve(payload, fields, valid())
        if preview:
            data["action"] = "preview"
        before = count(app, Resource)
        response = post(client, "/staff/resources/new", data, token)
        no_server_error(response, data)
        after = count(app, Resource)
        if response.status_code == 302:
            assert not preview and after == before + 1
        else:
            assert response.status_code in (200, 400), response.status_code
            assert response.status_code == 400 or preview
            assert after == before, "a refused or previewed draft was stored"

    run()


def test_edit_published_resource_fuzz(app):
    """Edits of a published resource also rewrite its search document: the index never falls behind."""
    fields = form_fields(app, ResourceForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    resource_id = make_resource(app)
    path = f"/staff/resources/{resource_id}/edit"
    valid = dict(RESOURCE_VALID, title="An edited toolkit")
    assert post(client, path, valid, token).status_code == 302, "the valid edit must save"

    @FUZZ
    @given(payload=payloads(fields, valid), preview=st.booleans())
    def run(payload, preview):
        fresh_entropy()
        data = resolve(payload, fields, valid)
        if preview:
            data["action"] = "preview"
        before = resource_row(app, resource_id)
        response = post(client, path, data, token)
        no_server_error(response, data)
        after = resource_row(app, resource_id)
        if response.status_code == 302:
            assert not preview
        else:
            assert response.status_code == 400 or (preview and response.status_code == 200), response.status_code
            assert after == before, "a refused or previewed edit changed the resource"
        index_in_step(app)
        listed = client.get("/resources", query_string={"q": after["title"][:200]})
        no_server_error(listed, after["title"])

    run()


def test_status_form_fuzz(app):
    fields = form_fields(app, StatusForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    resource_id = make_resource(app)

    @FUZZ
    @given(payload=payloads(fields, {"action": ""}),
           action=st.sampled_from(["review", "publish", "unpublish", "archive"]))
    def run(payload, action):
        fresh_entropy()
        data = resolve(payload, fields, {"action": action})
        before = resource_row(app, resource_id)
        response = post(client, f"/staff/resources/{resource_id}/status", data, token)
        no_server_error(response, data)
        expect(response, (302,), data)
        after = resource_row(app, resource_id)
        if after["status"] == before["status"]:
            assert after == before, "a refused status change changed the resource"
        index_in_step(app)

    run()


def test_upload_form_fuzz(app):
    fields = form_fields(app, UploadForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    resource_id = make_resource(app)
    path = f"/staff/resources/{resource_id}/files"
    response = client.post(path, data={"csrf_token": token, "file": (io.BytesIO(b"a,b\n1,2\n"), "calls.csv")})
    assert response.status_code == 302, "the valid upload must work"

    @FUZZ
    @given(payload=payloads(fields, {}))
    def run(payload):
        fresh_entropy()
        data = resolve(payload, fields, {})
        before = resource_row(app, resource_id)
        response = client.post(path, data={"csrf_token": token, **data})
        no_server_error(response, {k: v[1] if isinstance(v, tuple) else v for k, v in data.items()})
        after = resource_row(app, resource_id)
        if response.status_code == 302:
            assert len(after["attachments"]) in (len(before["attachments"]), len(before["attachments"]) + 1)
        else:
            assert response.status_code in (400, 413), response.status_code
            assert after["attachments"] == before["attachments"], "a refused upload was attached"
        index_in_step(app)
        for attachment_id in after["attachments"]:
            with unit(app):
                slug = db.session.get(Attachment, attachment_id).resource.slug
            download = client.get(f"/resources/{slug}/files/{attachment_id}")
            download.close()
            assert download.status_code == 200

    run()


SUGGESTION_VALID = {"title": "A toolkit we use", "type": "toolkit", "summary": "For dispatchers.",
                    "external_url": "https://example.org/t", "jurisdiction": "Denver", "note": "Thanks"}


def test_suggestion_form_fuzz(app):
    fields = form_fields(app, SuggestionForm)
    client, token = signed_in(app, "suggest@example.org")
    before = count(app, Suggestion)
    assert post(client, "/resources/suggest", SUGGESTION_VALID, token).status_code == 302, "must work"
    assert count(app, Suggestion) == before + 1

    @FUZZ
    @given(payload=payloads(fields, SUGGESTION_VALID))
    def run(payload):
        data = resolve(payload, fields, SUGGESTION_VALID)
        before = count(app, Suggestion)
        response = post(client, "/resources/suggest", data, token)
        no_server_error(response, data)
        after = count(app, Suggestion)
        if response.status_code == 302:
            assert after == before + 1
        else:
            assert response.status_code == 400, response.status_code
            assert after == before, "a refused suggestion was stored"

    run()


def test_decision_form_fuzz(app, outbox):
    fields = form_fields(app, DecisionForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    suggester = create_member(app, email="suggester@example.org")

    def pending() -> int:
        with unit(app):
            return suggestions.submit_suggestion(member=db.session.get(Member, suggester), title="Please add this",
                                                 type="toolkit").id

    @FUZZ
    @given(payload=payloads(fields, {"decision": "", "note": ""}), decision=st.sampled_from(["accept", "decline"]))
    def run(payload, decision):
        fresh_entropy()
        data = resolve(payload, fields, {"decision": decision, "note": "Thank you for this."})
        suggestion_id = pending()
        resources, mails = count(app, Resource), len(outbox.messages())
        response = post(client, f"/staff/suggestions/{suggestion_id}", data, token)
        no_server_error(response, data)
        expect(response, (302,), data)
        with unit(app):
            status = db.session.get(Suggestion, suggestion_id).status
        if status == "pending":
            assert count(app, Resource) == resources, "a refused decision made a resource"
            assert len(outbox.messages()) == mails, "a refused decision sent mail"
        elif status == "accepted":
            assert count(app, Resource) == resources + 1
        else:
            assert count(app, Resource) == resources

    run()


def test_alert_picks_form_fuzz(app):
    fields = form_fields(app, AlertPicksForm)
    make_resource(app, topics=["dispatch", "mental health"])
    client, token = signed_in(app, "alerts@example.org")
    member_id = member_by_email(app, "alerts@example.org")
    valid = {"wants_alerts": "y", "types": ["toolkit"], "topics": ["dispatch"]}
    assert post(client, "/account/alerts", valid, token).status_code == 302, "the valid picks must save"

    @FUZZ
    @given(payload=payloads(fields, valid))
    def run(payload):
        data = resolve(payload, fields, valid)
        before = snapshot(app, member_id), count(app, SavedSearch)
        response = post(client, "/account/alerts", data, token)
        no_server_error(response, data)
        if response.status_code != 302:
            assert response.status_code == 400, response.status_code
            assert (snapshot(app, member_id), count(app, SavedSearch)) == before, "refused picks were saved"

    run()


def test_saved_search_fuzz(app):
    client, token = signed_in(app, "saver@example.org")

    @FUZZ
    @given(args=st.dictionaries(st.sampled_from(SEARCH_ARGS), st.one_of(TEXT, st.lists(TEXT, max_size=3)),
                                max_size=5))
    def run(args):
        response = post(client, "/resources/saved", args, token)
        no_server_error(response, args)
        expect(response, (302,), args)
        if response.status_code == 302:
            assert_same_site_redirect(response)
        alerts_page = client.get("/account/alerts")
        no_server_error(alerts_page, args)
        assert alerts_page.status_code == 200

    run()


def test_unsubscribe_token_fuzz(app):
    client = app.test_client()

    @FUZZ
    @given(token=TEXT, method=st.sampled_from(["GET", "POST"]))
    def run(token, method):
        response = client.open("/alerts/unsubscribe/" + quote(token, safe=""), method=method)
        no_server_error(response, token)
        assert response.status_code in (200, 400, 404, 405), response.status_code
        if method == "POST" and response.status_code == 200:
            raise AssertionError("a made-up unsubscribe token was accepted")

    run()


# --- coverage ----------------------------------------------------------------------------------

def test_every_form_is_fuzzed(app):
    """Every FlaskForm defined by a registered blueprint's package is fuzzed in this module."""
    found = set()
    for blueprint in app.blueprints.values():
        package = blueprint.import_name.rpartition(".")[0]
        try:
            module = importlib.import_module(f"{package}.forms")
        except ModuleNotFoundError:
            continue
        found |= {cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, FlaskForm) and cls.__module__ == module.__name__}
    from tests.test_events_fuzz import EVENT_FUZZED_FORMS  # that module imports this one's helpers
    from tests.test_jurisdictions_fuzz import JURISDICTION_FUZZED_FORMS
    from tests.test_calls_fuzz import CALLS_FUZZED_FORMS
    from tests.test_network import NETWORK_FUZZED_FORMS
    from tests.test_network_contact import NETWORK_CONTACT_FUZZED_FORMS

    missing = sorted(cls.__qualname__ for cls in found - FUZZED_FORMS - EVENT_FUZZED_FORMS - JURISDICTION_FUZZED_FORMS
                     - CALLS_FUZZED_FORMS - NETWORK_FUZZED_FORMS - NETWORK_CONTACT_FUZZED_FORMS)
    assert not missing, f"forms with no fuzz test in tests/test_forms_fuzz.py or tests/test_events_fuzz.py: {missing}"
