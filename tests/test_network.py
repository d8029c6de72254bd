"""The member directory: opt-in profiles at /account, /network for verified members only, filters with counts
worked by hand, opting out at once, export and deletion, bad input, and no profile text for anyone else."""
import json

from sqlalchemy import func, select

from portal.extensions import db
from portal.jurisdictions import programs
from portal.jurisdictions.services import get_jurisdiction
from portal.members import services as members
from portal.network import services as network
from portal.network.forms import DirectoryProfileForm, directory_form
from portal.network.models import NetworkProfile
from tests.conftest import PASSWORD, counted_queries, create_jurisdiction, create_member, csrf_token, login, unit
from tests.test_forms_fuzz import form_fields, fuzz_form
from tests.test_members import post_prefixed

SECRET_WORD = "zqxvbiowordunique"


def program_ids(app) -> dict:
    """Two programs of Riverton: a community responder and a co-responder."""
    create_jurisdiction(app)
    with unit(app):
        riverton = get_jurisdiction("riverton")
        community, _ = programs.save_program(riverton, actor=None, name="Riverton CARES", model="community_responder")
        co, _ = programs.save_program(riverton, actor=None, name="Riverton Co-Response", model="co_responder")
        return {"community": community.id, "co": co.id}


def listed(app, email: str, name: str, **fields) -> int:
    """A verified member listed in the directory through the service; the profile's id."""
    create_member(app, email=email, name=name)
    with unit(app):
        values = {"is_listed": True, "display_name": name, "sector": "advocate", **fields}
        return network.save_profile(members.find_member_by_email(email), **values).id


def signed_in(app, email: str, **changes):
    if "@" not in email:
        email = f"{email}@example.org"
    create_member(app, email=email, name=email.split("@")[0].title(), **changes)
    client = app.test_client()
    login(client, email, PASSWORD)
    return client


def save_form(client, **fields):
    data = {"display_name": "Dana Dispatcher", "sector": "government", "is_listed": "y", **fields}
    return post_prefixed(client, "/account/directory", "directory", {k: v for k, v in data.items() if v is not None})


def test_a_member_lists_themself_and_a_verified_member_finds_them(app):
    ids = program_ids(app)
    writer = signed_in(app, "dana")
    response = save_form(writer, title="Dispatch supervisor", organisation="Riverton 911",
                         jurisdiction="riverton", programs=[str(ids["co"])],
                         bio=f"I triage welfare checks. *{SECRET_WORD}* <script>alert(1)</script>")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account#directory")
    reader = signed_in(app, "reader")
    page = reader.get("/network").get_data(as_text=True)
    assert "Dana Dispatcher" in page and "1 member listed" in page
    with unit(app):
        profile_id = db.session.scalar(select(NetworkProfile.id))
    shown = reader.get(f"/network/{profile_id}").get_data(as_text=True)
    assert "Dispatch supervisor" in shown and "Riverton Co-Response" in shown and "Co-responder" in shown
    assert f"<em>{SECRET_WORD}</em>" in shown and "<script>alert" not in shown  # Markdown, sanitised
    assert "dana@example.org" not in shown and "dana@example.org" not in page  # an address is never shown
    assert "This is your listing" not in shown
    assert "This is your listing" in writer.get(f"/network/{profile_id}").get_data(as_text=True)


def test_anonymous_and_unverified_visitors_learn_what_it_is_and_never_see_a_name(app, client):
    profile_id = listed(app, "pat@example.org", "Pat Peer", bio=SECRET_WORD, organisation="Peer Org")
    for viewer in (client, signed_in(app, "newcomer", verified=False)):
        page = viewer.get("/network")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "How it works" in text and "Pat Peer" not in text and "Peer Org" not in text
    assert client.get(f"/network/{profile_id}").headers["Location"].startswith("/login")
    assert signed_in(app, "other-newcomer", verified=False).get(f"/network/{profile_id}").status_code == 403


def test_no_profile_text_reaches_an_anonymous_reader_anywhere(app, client):
    create_jurisdiction(app)
    listed(app, "pat@example.org", f"Pat {SECRET_WORD}", bio=SECRET_WORD, organisation=SECRET_WORD,
           jurisdiction="riverton", topics=[SECRET_WORD])
    for path in ("/", "/network", "/sitemap.xml", "/feed.atom", "/robots.txt", "/jurisdictions",
                 "/jurisdictions/riverton", f"/resources?q={SECRET_WORD}", "/api/v1/jurisdictions",
                 "/api/v1/openapi.json", "/events", "/initiative"):
        response = client.get(path)
        assert response.status_code < 500, path
        text = response.get_data(as_text=True).lower()
        if path.startswith("/resources"):
            assert "0 resources" in text  # the page repeats the words searched for, and finds nothing
            continue
        assert SECRET_WORD not in text, path


def test_opting_out_is_immediate(app):
    writer = signed_in(app, "dana")
    assert save_form(writer).status_code == 302
    reader = signed_in(app, "reader")
    with unit(app):
        profile_id = db.session.scalar(select(NetworkProfile.id))
    assert reader.get(f"/network/{profile_id}").status_code == 200
    response = save_form(writer, is_listed=None)
    assert response.status_code == 302
    assert "Dana Dispatcher" not in reader.get("/network").get_data(as_text=True)
    assert reader.get(f"/network/{profile_id}").status_code == 404
    # The profile is kept for the member (not listed), and the account form shows it unticked.
    account = writer.get("/account").get_data(as_text=True)
    assert 'value="Dana Dispatcher"' in account
    assert 'id="directory-is_listed" name="directory-is_listed" type="checkbox" value="y">' in account


def test_filters_count_under_the_other_filters(app):
    """Worked by hand. A: advocate, Riverton, community responder, dispatch. B: researcher, Riverton,
    co-responder, dispatch. C: advocate, no place, no program, housing."""
    ids = program_ids(app)
    listed(app, "a@example.org", "Avery A", jurisdiction="riverton", programs=[ids["community"]], topics=["dispatch"])
    listed(app, "b@example.org", "Blake B", sector="researcher", jurisdiction="riverton", programs=[ids["co"]],
           topics=["Dispatch"])
    listed(app, "c@example.org", "Casey C", topics=["housing"])
    with app.test_request_context():
        everyone = network.list_directory()
        assert [p.display_name for p in everyone.profiles] == ["Avery A", "Blake B", "Casey C"]
        assert everyone.counts["sector"] == [("advocate", "Advocate", 2), ("researcher", "Researcher", 1)]
        assert everyone.counts["topic"] == [("dispatch", "dispatch", 2), ("housing", "housing", 1)]
        assert everyone.counts["jurisdiction"] == [("riverton", "Riverton", 2)]
        advocates = network.list_directory(filters={"sector": "advocate"})
        assert [p.display_name for p in advocates.profiles] == ["Avery A", "Casey C"]
        # The sector counts ignore the sector filter; the others follow it.
        assert advocates.counts["sector"] == everyone.counts["sector"]
        assert advocates.counts["model"] == [("community_responder", "Community responder", 1)]
        found = network.list_directory(filters={"model": "community_responder", "topic": "dispatch"})
        assert [p.display_name for p in found.profiles] == ["Avery A"] and found.total == 1
        assert network.list_directory(filters={"model": "co_responder", "sector": "advocate"}).total == 0
        assert network.list_directory(filters={"topic": "nothing such"}).total == 0
        paged = network.list_directory(page=2, per_page=2)
        assert [p.display_name for p in paged.profiles] == ["Casey C"] and paged.pages == 2
    reader = signed_in(app, "reader")
    page = reader.get("/network?model=co_responder&topic=dispatch").get_data(as_text=True)
    assert "Blake B" in page and "Avery A" not in page and "1 member listed under these filters" in page
    assert reader.get("/network?page=99999&sector=%00").status_code in (200, 400)


def test_bad_input_is_refused_with_a_message_and_saves_nothing(app):
    program_ids(app)
    client = signed_in(app, "dana")
    for fields, message in (({"jurisdiction": "atlantis"}, "Choose a jurisdiction from the list."),
                            ({"programs": ["abc"]}, "Choose programs from the list."),
                            ({"programs": ["999999"]}, "Choose programs from the list."),
                            ({"bio": "x" * 2001}, "Use at most 2000 characters."),
                            ({"display_name": "   "}, "Enter name to show."),
                            ({"sector": "pirates"}, "Choose a sector from the list."),
                            ({"title": "a\x01b"}, "Remove the control characters")):
        response = save_form(client, **fields)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True), fields
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(NetworkProfile)) == 0


def test_an_unverified_member_cannot_list_themself(app):
    client = signed_in(app, "newcomer", verified=False)
    assert save_form(client).status_code == 403
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(NetworkProfile)) == 0


def test_the_export_holds_the_profile_and_deletion_removes_it(app):
    ids = program_ids(app)
    client = signed_in(app, "dana")
    save_form(client, programs=[str(ids["co"])], bio="About me", topics=[])
    data = json.loads(client.get("/account/export.json").get_data(as_text=True))
    assert data["directory_profile"]["display_name"] == "Dana Dispatcher"
    assert data["directory_profile"]["programs"] == ["Riverton Co-Response (Riverton, Oregon)"]
    assert data["directory_profile"]["is_listed"] is True
    response = post_prefixed(client, "/account/delete", "delete", {"password": PASSWORD})
    assert response.status_code == 302
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(NetworkProfile)) == 0


def test_the_directory_costs_the_same_queries_for_two_people_as_for_thirty(app):
    ids = program_ids(app)
    reader = signed_in(app, "reader")

    def count() -> int:
        with counted_queries(app) as statements:
            assert reader.get("/network").status_code == 200
        return len(statements)

    for n in range(2):
        listed(app, f"p{n}@example.org", f"Person {n}", jurisdiction="riverton", programs=list(ids.values()))
    few = count()
    for n in range(2, 30):
        listed(app, f"p{n}@example.org", f"Person {n}", jurisdiction="riverton", programs=list(ids.values()),
               topics=[f"topic {n}"])
    assert count() == few


def test_the_csrf_token_is_required(app):
    client = signed_in(app, "dana")
    csrf_token(client, "/account")
    response = client.post("/account/directory", data={"directory-display_name": "Dana",
                                                       "directory-sector": "government"})
    assert response.status_code == 400


# Read by tests/test_forms_fuzz.py's test_every_form_is_fuzzed.
NETWORK_FUZZED_FORMS = {DirectoryProfileForm}


def _saved_profiles(app) -> tuple:
    with unit(app):
        db.session.expire_all()
        return tuple((p.display_name, p.title, p.organisation, p.sector, p.jurisdiction_id, tuple(p.topics or ()),
                      p.bio, p.is_listed, tuple(sorted(q.id for q in p.programs)))
                     for p in db.session.scalars(select(NetworkProfile)))


def test_the_directory_form_fuzz(app):
    ids = program_ids(app)
    client = signed_in(app, "dana")
    token = csrf_token(client, "/account")
    fields = form_fields(app, lambda: directory_form(formdata=None, meta={"csrf": False}))
    valid = {"display_name": "Dana", "sector": "government", "is_listed": "y", "programs": [str(ids["co"])]}
    fuzz_form(app, client, token, "/account/directory", fields, valid, state=_saved_profiles, statuses=(302, 400),
              csrf_field="directory-csrf_token")
