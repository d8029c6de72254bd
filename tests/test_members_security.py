"""Membership security findings, each proven over HTTP: email-change takeover, rate limits and Unicode,
sessions that end at sign-out, the CSRF token at sign-in; and sign-up as readers use it."""
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.members.models import Member
from tests.conftest import create_member, csrf_token, link_path, login, Outbox, PASSWORD, post_form, unit
from tests.test_members import (NEW_PASSWORD, SIGNUP, errors_of, is_signed_in, member_row, post_prefixed,
                                signup)

FULLWIDTH_E = "\uff45"  # "ｅ": NFKC (and IDNA) fold it to "e"


def copy_cookies(source, target, names=("session", "remember_token")):
    """What a thief with the cookie jar has: the same cookies in another browser."""
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value, domain=cookie.domain, path=cookie.path)


# --- 1. account takeover through a pending email change ----------------------------------------

def test_a_reset_by_the_address_owner_kills_a_change_an_attacker_set_up(app, outbox):
    # The attacker signs up with the victim's address and asks to move the account to their own.
    attacker = app.test_client()
    signup(attacker, email="victim@example.org", name="Not The Victim")
    login(attacker, email="victim@example.org")
    assert post_prefixed(attacker, "/account/email", "email", {"new_email": "attacker@example.org",
                                                                "password": PASSWORD}).status_code == 302
    kept_link = link_path(Outbox.link(outbox.last("attacker@example.org")))
    # The old address hears of the change, with the way to stop it.
    notice = outbox.last("victim@example.org")
    assert notice["Subject"] == "A change of your email address was requested"
    assert "attacker@example.org" in Outbox.text(notice) and "/reset" in Outbox.text(notice)

    # The victim takes the address back with a reset and fills in the profile.
    victim = app.test_client()
    post_form(victim, "/reset", {"email": "victim@example.org"}, token_from="/reset")
    reset_link = link_path(Outbox.link(outbox.last("victim@example.org")))
    assert post_form(victim, reset_link, {"password": NEW_PASSWORD}).status_code == 302
    row = member_row(app, "victim@example.org")
    assert row.pending_email is None
    login(victim, email="victim@example.org", password=NEW_PASSWORD)
    assert "attacker@example.org" not in victim.get("/account").get_data(as_text=True)
    post_form(victim, "/account", {"name": "Vera Victim", "sector": "government"}, token_from="/account")

    # The kept link is dead, and the attacker's session with it.
    assert not is_signed_in(attacker)
    response = app.test_client().get(kept_link)
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)
    assert member_row(app, "attacker@example.org") is None
    assert member_row(app, "victim@example.org").name == "Vera Victim"


def test_a_password_change_cancels_a_pending_email_change_and_its_link(app, client, outbox, member):
    login(client)
    post_prefixed(client, "/account/email", "email", {"new_email": "new@example.org", "password": PASSWORD})
    link = link_path(Outbox.link(outbox.last("new@example.org")))
    assert post_form(client, "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                     token_from="/account").status_code == 302
    assert member_row(app, member).pending_email is None
    assert client.get(link).status_code == 400
    assert member_row(app, member) is not None and member_row(app, "new@example.org") is None


def test_an_email_change_link_issued_before_a_reset_fails_even_if_asked_again(app, client, outbox, member):
    """Bound to the password state: a fresh change request after the reset needs its own fresh link."""
    login(client)
    post_prefixed(client, "/account/email", "email", {"new_email": "new@example.org", "password": PASSWORD})
    old_link = link_path(Outbox.link(outbox.last("new@example.org")))
    post_form(app.test_client(), "/reset", {"email": member}, token_from="/reset")
    assert post_form(app.test_client(), link_path(Outbox.link(outbox.last(member))),
                     {"password": NEW_PASSWORD}).status_code == 302
    login(client, password=NEW_PASSWORD)
    post_prefixed(client, "/account/email", "email", {"new_email": "new@example.org", "password": NEW_PASSWORD})
    new_link = link_path(Outbox.link(outbox.last("new@example.org")))
    assert client.get(old_link).status_code == 400
    assert member_row(app, member).pending_email == "new@example.org"
    assert client.get(new_link).status_code == 302
    assert member_row(app, "new@example.org") is not None


# --- 2. per-email limits count the address the account uses ------------------------------------

def test_login_limit_counts_unicode_variants_of_one_address(client, member):
    variants = [f"member@{FULLWIDTH_E}xample.org", "MEMBER@example.org", f"Member@{FULLWIDTH_E}XAMPLE.ORG",
                " member@example.org ", f"member@ex{chr(0xff41)}mple.org"]
    for attempt, variant in enumerate(variants):
        response = post_form(client, "/login", {"email": variant, "password": "wrong password here"},
                             environ_base={"REMOTE_ADDR": f"10.0.3.{attempt + 1}"})
        assert response.status_code == 400, variant
    response = post_form(client, "/login", {"email": f"member@{FULLWIDTH_E}xample.org", "password": PASSWORD},
                         environ_base={"REMOTE_ADDR": "10.0.4.1"})
    assert response.status_code == 429
    assert not is_signed_in(client)


def test_the_fullwidth_form_signs_in_to_the_same_account(client, member):
    login(client, email=f"member@{FULLWIDTH_E}xample.org")
    assert member in client.get("/account").get_data(as_text=True)


def test_reset_limit_counts_unicode_variants_of_one_address(app, client, outbox, member):
    variants = [f"member@{FULLWIDTH_E}xample.org", "Member@Example.org", f"MEMBER@{FULLWIDTH_E}xample.org",
                f"member@exampl{FULLWIDTH_E}.org", "member@example.org"]
    codes = [post_form(client, "/reset", {"email": variant}, token_from="/reset",
                       environ_base={"REMOTE_ADDR": f"10.0.5.{number}"}).status_code
             for number, variant in enumerate(variants, start=1)]
    assert codes == [200, 200, 200, 429, 429]
    assert len([m for m in outbox.messages(member) if "Reset your" in m["Subject"]]) == 3


# --- 3. signing out ends the session, also for a copied cookie --------------------------------------

def test_sign_out_ends_a_copied_session_cookie(app, client, member):
    login(client)
    thief = app.test_client()
    copy_cookies(client, thief, names=("session",))
    assert is_signed_in(thief)
    post_form(client, "/logout", token_from="/account")
    assert not is_signed_in(client)
    assert not is_signed_in(thief)


def test_sign_out_ends_a_copied_remember_me_cookie(app, client, member):
    assert post_form(client, "/login", {"email": member, "password": PASSWORD, "remember": "y"}).status_code == 302
    thief = app.test_client()
    copy_cookies(client, thief, names=("remember_token",))  # the year-long cookie alone opens the account
    assert is_signed_in(thief)
    post_form(client, "/logout", token_from="/account")
    fresh_thief = app.test_client()
    copy_cookies(thief, fresh_thief, names=("remember_token",))
    assert not is_signed_in(fresh_thief)
    assert not is_signed_in(thief)


def test_sign_out_signs_out_every_device(app, client, member):
    """The chosen trade-off: one session token per member, so signing out here ends the others too."""
    phone = app.test_client()
    login(client)
    login(phone)
    post_form(client, "/logout", token_from="/account")
    assert not is_signed_in(phone)
    login(phone)  # signing in again works at once
    assert is_signed_in(phone)


def test_password_change_and_reset_end_copied_cookies(app, client, outbox, member):
    assert post_form(client, "/login", {"email": member, "password": PASSWORD, "remember": "y"}).status_code == 302
    thief = app.test_client()
    copy_cookies(client, thief)
    post_form(client, "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
              token_from="/account")
    assert is_signed_in(client)
    assert not is_signed_in(thief)
    thief = app.test_client()
    copy_cookies(client, thief)
    post_form(app.test_client(), "/reset", {"email": member}, token_from="/reset")
    assert post_form(app.test_client(), link_path(Outbox.link(outbox.last(member))),
                     {"password": "a third long passphrase 11"}).status_code == 302
    assert not is_signed_in(thief)
    assert not is_signed_in(client)


def test_the_csrf_token_changes_at_sign_in(app, client, member):
    before = csrf_token(client, "/login")
    login(client)
    after = csrf_token(client, "/account")
    assert before != after
    # The token seen before signing in no longer works for the signed-in session.
    refused = client.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 400
    assert is_signed_in(client)
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


# --- 8. sign-up and verification as readers use them ----------------------------------------------

def test_the_verify_link_lands_on_a_page_that_says_the_address_is_confirmed(app, client, outbox):
    signup(client)
    response = app.test_client().get(link_path(Outbox.link(outbox.last(SIGNUP["email"]))))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Your email address is confirmed</h1>" in html
    assert SIGNUP["email"] in html and 'href="/login?next=/account"' in html


def _needs(html: str) -> dict[str, str]:
    """Each form control's id -> the "Required"/"Optional" its description (aria-describedby) says."""
    form = html[html.index('<form method="post"'):]
    hints = dict(re.findall(r'<p class="hint" id="([^"]+)"><span class="field-need">(\w+)\.</span>', form))
    needs = {}
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", form):
        if re.search(r'type="(hidden|submit)"', tag):
            continue
        control = re.search(r'\bid="([^"]+)"', tag).group(1)
        described = re.search(r'aria-describedby="([^"]+)"', tag)
        said = [hints[i] for i in described.group(1).split() if i in hints] if described else []
        needs[control] = said[0] if said else "nothing"
    return needs


@pytest.mark.parametrize("path", ["/signup", "/login", "/reset"])
def test_every_field_says_required_or_optional(client, path):
    needs = _needs(client.get(path).get_data(as_text=True))
    assert needs
    assert set(needs.values()) <= {"Required", "Optional"}, needs


def test_signup_says_which_fields_are_required(client):
    needs = _needs(client.get("/signup").get_data(as_text=True))
    assert {control for control, need in needs.items() if need == "Required"} == {
        "name", "email", "password", "sector", "consent"}
    assert {control for control, need in needs.items() if need == "Optional"} == {
        "organisation", "title", "jurisdiction", "jurisdiction_other", "wants_alerts"}


def test_account_page_fields_say_required_or_optional(client, member):
    login(client)
    html = client.get("/account").get_data(as_text=True)
    needs = {}
    for start in [m.start() for m in re.finditer('<form method="post"', html)]:
        needs.update(_needs(html[start:]))
    assert len(needs) >= 10
    assert set(needs.values()) <= {"Required", "Optional"}, needs


def test_the_error_summary_follows_the_form_order(client):
    response = signup(client, name="", email="", password="short", sector="",
                      organisation="o" * 201, consent=None)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    summary_order = re.findall(r'<li><a href="#([^"]+)">', errors_of(response))
    form = html[html.index('<form method="post"'):]
    page_order = [name for name in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', form)
                  if name in summary_order]
    assert summary_order == page_order
    assert summary_order[:3] == ["name", "email", "password"]


def test_signup_keeps_no_enumeration_with_the_new_page(app, client, member):
    # The answer to a sign-up with a taken address is still the same "check your email" page.
    fresh = signup(app.test_client(), email="newcomer@example.org")
    again = signup(client, email=member)
    assert fresh.status_code == again.status_code == 200
    assert "Check your email" in fresh.get_data(as_text=True) and "Check your email" in again.get_data(as_text=True)


# --- 5. the member's jurisdiction is a row of the directory ----------------------------------------------

def test_signup_offers_the_directory_and_an_other_note(app, client):
    html = client.get("/signup").get_data(as_text=True)
    assert '<option value="tucson">Tucson, Arizona</option>' in html
    assert signup(client, jurisdiction="", jurisdiction_other="  Pima   County, Arizona ").status_code == 200
    row = member_row(app, SIGNUP["email"])
    assert row.jurisdiction_id is None and row.jurisdiction_other == "Pima County, Arizona"
    assert row.jurisdiction_label == "Pima County, Arizona"


@pytest.mark.parametrize("typed", ["denver", "Denver", "DENVER, colorado"])
def test_a_jurisdiction_is_matched_by_slug_name_or_label(app, client, typed):
    assert signup(client, jurisdiction=typed).status_code == 200
    assert member_row(app, SIGNUP["email"]).jurisdiction.slug == "denver"


def test_an_unknown_jurisdiction_is_a_clear_400(app, client):
    response = signup(client, jurisdiction="Atlantis")
    assert response.status_code == 400
    assert "Choose a jurisdiction from the list" in errors_of(response)
    assert member_row(app, SIGNUP["email"]) is None


def test_the_export_shows_the_jurisdiction_label(app, client):
    create_member(app, email="denver@example.org", jurisdiction="denver", jurisdiction_other="Aurora too")
    login(client, email="denver@example.org")
    profile = client.get("/account/export.json").get_json()["profile"]
    assert profile["jurisdiction"] == "Denver, Colorado"
    assert profile["jurisdiction_other"] == "Aurora too"


def test_a_deleted_jurisdiction_leaves_the_member(app, member):
    from portal.jurisdictions.models import Jurisdiction
    from sqlalchemy import select

    with unit(app):
        row = db.session.scalar(select(Member).where(Member.email == member))
        row.jurisdiction = db.session.scalar(select(Jurisdiction).where(Jurisdiction.slug == "tucson"))
    with unit(app):
        db.session.delete(db.session.scalar(select(Jurisdiction).where(Jurisdiction.slug == "tucson")))
    assert member_row(app, member).jurisdiction_id is None


# --- in a real browser: the sign-up journey's new pages pass axe on a phone and a desktop -------------

@pytest.mark.browser
@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}, {"width": 1280, "height": 900}],
                         ids=["360px", "1280px"])
def test_sign_up_pages_are_accessible(browser, app, live_server, viewport):
    from playwright.sync_api import expect

    from tests.conftest import check_accessible

    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    page = context.new_page()
    try:
        page.goto("/signup")
        page.get_by_role("button", name="Create my account").click()  # every required field empty
        expect(page.get_by_role("alert")).to_contain_text("There is a problem")
        expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Name")).to_have_accessible_description(re.compile(r"^Required\."))
        expect(page.get_by_label("Organisation")).to_have_accessible_description("Optional.")
        check_accessible(page)

        page.get_by_label("Name").fill("Rosa Rivera")
        page.get_by_label("Email address").fill("rosa@example.org")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Sector").select_option("government")
        page.get_by_label("City, county or jurisdiction").select_option(label="Tucson, Arizona")
        page.get_by_role("checkbox", name="I accept the terms of use").check()
        page.get_by_role("button", name="Create my account").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

        page.goto(link_path(Outbox.link(Outbox(app).last("rosa@example.org"))))
        expect(page.get_by_role("heading", level=1)).to_have_text("Your email address is confirmed")
        check_accessible(page)
        page.get_by_role("link", name="Sign in", exact=True).last.click()
        page.get_by_label("Email address").fill("rosa@example.org")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
        expect(page.get_by_label("City, county or jurisdiction")).to_have_value("tucson")
        check_accessible(page)
    finally:
        context.close()


# --- whatever is typed ------------------------------------------------------------------------------

@given(typed=st.one_of(st.text(max_size=400), st.builds("{}@{}".format, st.text(max_size=70), st.text(max_size=70))))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_rate_limit_key_takes_any_text_and_folds_variants_together(app, typed):
    from portal.members.services import normalize_email
    from portal.members.views import _email_key

    with app.test_request_context("/login", method="POST", data={"email": typed}):
        key = _email_key()
    assert key.startswith("email:") and len(key) <= 6 + 320
    try:
        normalized = normalize_email(typed)
    except ValidationFailed:
        return
    variant = f"  {normalized.upper() if normalized.isascii() else normalized} "
    with app.test_request_context("/login", method="POST", data={"email": variant}):
        assert _email_key() == key


@given(typed=st.text(max_size=200))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_typed_jurisdiction_is_a_row_or_a_clear_refusal(app, typed):
    from portal.members.services import find_jurisdiction

    with app.app_context():
        try:
            found = find_jurisdiction(typed)
        except ValidationFailed as error:
            assert error.field == "jurisdiction" and "Choose a jurisdiction from the list" in error.message
        else:
            assert found is None or " ".join(typed.split()).casefold() in (
                found.slug, found.name.casefold(), found.label.casefold())
