"""Staff pages: the routes in their features' staff_views, the audit log as sentences with links, the
dashboard's counts (constant SQL whatever the numbers) and the editor's one date field and default action."""
import html as html_lib
import re
from datetime import timedelta

import pytest

from portal.audit.sentences import describe_events, parse_subject
from portal.audit.services import list_events, record_event
from portal.database import utcnow
from portal.members import services as members
from tests.conftest import counted_queries, create_member, login, post_form, unit
from tests.library_helpers import make_resource, resource_state

TIME = r"\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2} UTC"


def text_of(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def audit_rows(page: str) -> list[dict]:
    """Each row of the audit table: its sentence (text and links) and its time."""
    rows = []
    row = r'<tr>\s*<td>(.*?) · <time class="audit-when"[^>]*>(.*?)</time></td>'
    for sentence, when in re.findall(row, page, re.S):
        rows.append({"text": text_of(sentence), "links": re.findall(r'<a href="([^"]+)"', sentence),
                     "html": sentence, "when": text_of(when)})
    return rows


def row_saying(rows, text: str) -> dict:
    found = [row for row in rows if row["text"] == text]
    assert found, f"no row says {text!r}; rows: {[row['text'] for row in rows]}"
    return found[0]


def signed_in_client(app, email):
    client = app.test_client()
    login(client, email)
    return client


@pytest.fixture
def staff_client(app, staff):
    return signed_in_client(app, staff)


@pytest.fixture
def admin_client(app, admin):
    return signed_in_client(app, admin)


def member_id_of(app, email) -> int:
    with unit(app):
        return members.find_member_by_email(email).id


# --- 1. the routes live in their features and are still role-checked -------------------------------------

def test_staff_routes_moved_to_their_features_keep_their_urls_and_levels(app):
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules["/staff/"] == "staff.index"
    assert rules["/staff/members"] == "members_staff.member_list"
    assert rules["/staff/members/<int:member_id>/role"] == "members_staff.set_role"
    assert rules["/staff/audit"] == "audit_staff.audit_log"
    # staff/ itself holds only the dashboard.
    assert sorted(endpoint for endpoint in rules.values() if endpoint.startswith("staff.")) == ["staff.index"]
    levels = {endpoint: app.view_functions[endpoint].access_level
              for endpoint in ("members_staff.member_list", "members_staff.set_role", "audit_staff.audit_log")}
    assert levels == {"members_staff.member_list": "admin", "members_staff.set_role": "admin",
                      "audit_staff.audit_log": "staff"}


def test_moved_pages_answer_each_role_as_before(app, member, staff, admin):
    target = member_id_of(app, member)
    visitor = app.test_client()
    response = visitor.get("/staff/members")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert visitor.get("/staff/audit").status_code == 302

    member_client = signed_in_client(app, member)
    assert member_client.get("/staff/members").status_code == 403
    assert member_client.get("/staff/audit").status_code == 403

    staff_client = signed_in_client(app, staff)
    assert staff_client.get("/staff/audit").status_code == 200
    assert staff_client.get("/staff/members").status_code == 403
    refused = post_form(staff_client, f"/staff/members/{target}/role", {"role": "staff"}, token_from="/staff/")
    assert refused.status_code == 403
    with unit(app):  # the role is unchanged
        assert members.get_member(target).role == "member"

    admin_client = signed_in_client(app, admin)
    page = admin_client.get("/staff/members?q=member%40example")
    assert page.status_code == 200 and "member@example.org" in page.get_data(as_text=True)
    granted = post_form(admin_client, f"/staff/members/{target}/role?q=maya", {"role": "staff"},
                        token_from="/staff/members")
    assert granted.status_code == 302 and granted.headers["Location"] == "/staff/members?q=maya"
    with unit(app):
        assert members.get_member(target).role == "staff"


# --- 2. the audit log reads as sentences ------------------------------------------------------------------

def make_story(app, *, staff_email):
    """A resource written, published and given a file; a suggestion made and accepted; a role granted."""
    maya = create_member(app, email="maya@example.org", name="Maya Member")
    tara = create_member(app, email="tara@example.org", name="Tara Target")
    with unit(app):
        from portal.library import attachments, services, suggestions

        sam = members.find_member_by_email(staff_email)
        resource = services.create_resource(actor=sam, title="Journalists' toolkit", type="toolkit",
                                            body="How to report on alternative response.")
        services.update_resource(resource, actor=sam, summary="For reporters.", author="The team")
        services.change_status(resource, action="publish", actor=sam)
        attachments.attach_file(resource, actor=sam, filename="calls.csv", data=b"call_type,count\nnoise,3\n")
        suggestion = suggestions.submit_suggestion(member=members.get_member(maya), title="Denver STAR protocol",
                                                   type="policy")
        draft = suggestions.accept_suggestion(suggestion, actor=sam, note="Thanks!")
        admin = members.create_admin(email="ada@example.org", password="a long and unusual passphrase 7",
                                     name="Ada Admin")
        members.set_member_role(members.get_member(tara), role="staff", actor=admin)
        return {"resource": resource.id, "draft": draft.id, "tara": tara, "maya": maya}


def test_the_audit_log_reads_as_sentences_linking_to_what_still_exists(app, staff):
    story = make_story(app, staff_email=staff)
    admin_client = signed_in_client(app, "ada@example.org")
    rows = audit_rows(admin_client.get("/staff/audit").get_data(as_text=True))
    editor = f"/staff/resources/{story['resource']}/edit"

    published = row_saying(rows, "Sam Staff published the resource Journalists' toolkit")
    assert published["links"] == [editor]
    assert "<cite>Journalists&#39; toolkit</cite>" in published["html"]
    assert re.fullmatch(TIME, published["when"]), published["when"]
    assert row_saying(rows, "Sam Staff created the resource Journalists' toolkit as a draft")["links"] == [editor]
    assert row_saying(rows, "Sam Staff changed the author and summary of the resource Journalists' toolkit")
    assert row_saying(rows, "Sam Staff attached the file calls.csv to the resource Journalists' toolkit")
    # The accepted suggestion leads to the draft it became.
    suggested = row_saying(rows, "Maya Member suggested the resource Denver STAR protocol")
    assert suggested["links"] == [f"/staff/resources/{story['draft']}/edit"]
    assert row_saying(rows, "Sam Staff accepted the suggestion Denver STAR protocol as a draft")
    assert row_saying(rows, "Maya Member confirmed their email address")
    role = row_saying(rows, "Ada Admin changed the role of Tara Target from member to staff")
    assert role["links"] == ["/staff/members?q=tara@example.org"]
    assert row_saying(rows, "Ada Admin was made an admin from the command line")

    # Staff have no page for members: the same sentence without the link.
    staff_rows = audit_rows(signed_in_client(app, staff).get("/staff/audit").get_data(as_text=True))
    assert row_saying(staff_rows, "Ada Admin changed the role of Tara Target from member to staff")["links"] == []


def test_subjects_that_are_gone_and_actions_nobody_described_still_read_as_words(app, staff):
    with unit(app):
        sam = members.find_member_by_email(staff)
        record_event(actor=sam, action="event.published", subject="event spring-webinar")
        record_event(actor=None, action="resource.archive", subject="resource a-deleted-slug")
        record_event(actor=sam, action="suggestion.declined", subject="suggestion #999")
        record_event(actor=None, action="member.deleted", subject="member #998")
        record_event(actor=sam, action="resource.updated", subject="something else entirely",
                     fields=["title"])
        record_event(actor=sam, action="resource.created", subject="resource <script>alert(1)</script>")
    page = signed_in_client(app, staff).get("/staff/audit").get_data(as_text=True)
    rows = audit_rows(page)
    assert row_saying(rows, "Sam Staff: event published, event spring-webinar")["links"] == []
    assert row_saying(rows, "A command or a removed account archived the resource a-deleted-slug")["links"] == []
    assert row_saying(rows, "Sam Staff declined the suggestion #999")["links"] == []
    assert row_saying(rows, "Member #998 deleted their account")["links"] == []
    assert row_saying(rows, "Sam Staff changed the title of the resource something else entirely")
    assert "<script>alert(1)" not in page
    # The recorded action stays visible, and filters the log.
    assert '<a href="/staff/audit?action=event.published"' in page
    only = audit_rows(signed_in_client(app, staff).get("/staff/audit?action=event.published").get_data(as_text=True))
    assert [row["text"] for row in only] == ["Sam Staff: event published, event spring-webinar"]


def test_every_action_the_portal_records_has_its_sentence():
    from pathlib import Path

    from portal.audit.sentences import SENTENCES
    from portal.library.services import TRANSITIONS

    source = "\n".join(path.read_text() for path in (Path(__file__).parent.parent / "portal").rglob("*.py"))
    recorded = set(re.findall(r'action\s*=\s*"([a-z_]+\.[a-z_]+)"', source))
    # The two actions built from a variable: the workflow's steps and the suggestion decisions.
    recorded |= {f"resource.{'submitted' if step == 'review' else step}" for step in TRANSITIONS}
    recorded |= {"resource.created", "resource.updated", "suggestion.accepted", "suggestion.declined"}
    assert recorded - set(SENTENCES) == set()


def test_parse_subject():
    assert parse_subject("member #12") == ("member", 12)
    assert parse_subject("resource journalists-toolkit") == ("resource", "journalists-toolkit")
    assert parse_subject("suggestion #3") == ("suggestion", 3)
    assert parse_subject("two words here") is None
    assert parse_subject("") is None


def _events_of_every_kind(app, n: int, staff_email: str) -> None:
    """Member, resource and suggestion events: n of each story."""
    from portal.library import services, suggestions

    for number in range(n):
        member_id = create_member(app, email=f"m{n}-{number}@example.org", name=f"Member {number}", role="staff")
        with unit(app):
            sam = members.find_member_by_email(staff_email)
            resource = services.create_resource(actor=sam, title=f"Resource {number} of {n}", type="guide")
            services.change_status(resource, action="review", actor=sam)
            suggestions.submit_suggestion(member=members.get_member(member_id), title=f"Suggestion {number}",
                                          type="policy")


def test_a_page_of_events_loads_its_subjects_in_one_query_per_kind(app, staff, admin):
    client = signed_in_client(app, admin)
    client.get("/staff/audit")  # warm: the session's member is loaded the same way each time after this

    def queries_for_page():
        with counted_queries(app) as statements:
            assert client.get("/staff/audit").status_code == 200
        return len(statements)

    def queries_for_describe():
        with unit(app), app.test_request_context():
            events = list_events(per_page=50).items
            with counted_queries(app) as statements:
                sentences = describe_events(events)
            assert len(sentences) == len(events)
        return len(statements)

    _events_of_every_kind(app, 3, staff)
    few_page, few_describe = queries_for_page(), queries_for_describe()
    _events_of_every_kind(app, 6, staff)
    assert queries_for_page() == few_page
    assert queries_for_describe() == few_describe <= 3  # members, resources, suggestions


# --- 3. the dashboard counts -----------------------------------------------------------------------------

def add_work(app, n: int, tag: str) -> None:
    """n of everything the dashboard counts."""
    later = utcnow() + timedelta(days=3)
    for number in range(n):
        make_resource(app, title=f"Draft {tag} {number}", status="draft")
        make_resource(app, title=f"Review {tag} {number}", status="review")
        make_resource(app, title=f"Scheduled {tag} {number}", status="published", publish_at=later)
        make_resource(app, title=f"Live {tag} {number}", status="published")
        email = f"v-{tag}-{number}@example.org"
        create_member(app, email=email, name=f"Verified {number}")
        create_member(app, email=f"u-{tag}-{number}@example.org", name=f"Unverified {number}", verified=False)
        with unit(app):
            from portal.library import suggestions

            suggestions.submit_suggestion(member=members.find_member_by_email(email), title=f"Idea {tag} {number}",
                                          type="guide")


def figures(page: str) -> dict:
    return {text_of(label): int(number) for number, label in
            re.findall(r'<span class="work-count">(\d+)</span>([^<]*)', page)}


def test_the_dashboard_counts_with_the_same_queries_for_n_and_2n_records(app, staff_client, admin):
    admin_client = signed_in_client(app, admin)
    add_work(app, 2, "a")
    with counted_queries(app) as first:
        page = admin_client.get("/staff/").get_data(as_text=True)
    # Members: staff (and the admin create_member made for them), the admin, 2 verified, 2 unverified.
    assert figures(page) == {"drafts": 2, "in review": 2, "scheduled": 2, "suggestions pending": 2,
                             "representative requests": 0, "applications to join": 0, "reported messages": 0,
                             "members": 7, "with the staff role": 3}
    assert "( 5 verified , 2 unverified )" in text_of(page)  # each figure a link to those members
    assert 'href="/staff/resources?status=draft"' in page and 'href="/staff/resources?status=review"' in page
    assert 'href="/staff/suggestions"' in page and 'href="/staff/members"' in page
    scheduled = re.search(r'<ul class="scheduled-list">(.*?)</ul>', page, re.S).group(1)
    assert scheduled.count("<cite>Scheduled a") == 2  # the list the count links to

    add_work(app, 2, "b")
    with counted_queries(app) as second:
        page = admin_client.get("/staff/").get_data(as_text=True)
    assert figures(page)["drafts"] == 4 and figures(page)["members"] == 11
    assert len(second) == len(first), (first, second)
    # Counting is done by the database: no statement loads resources, suggestions or members to count them.
    counting = [s for s in second if "count(" in s.lower()]
    assert len(counting) >= 3


def test_the_member_counts_link_to_the_members_they_count(app, admin):
    admin_client = signed_in_client(app, admin)
    create_member(app, email="v-1@example.org", name="Vera Verified")
    create_member(app, email="u-1@example.org", name="Ulla Unconfirmed", verified=False)
    page = admin_client.get("/staff/").get_data(as_text=True)
    for show in ("verified", "unverified", "staff"):
        assert f'href="/staff/members?show={show}"' in page

    def listed(show):
        html = admin_client.get(f"/staff/members?show={show}").get_data(as_text=True)
        return {email for email in re.findall(r"[\w.+-]+@example\.org", html)}

    assert listed("unverified") == {"u-1@example.org"}
    assert "v-1@example.org" in listed("verified") and "u-1@example.org" not in listed("verified")
    assert listed("staff") == {admin}
    assert {"v-1@example.org", "u-1@example.org", admin} <= listed("anything-else")  # an unknown filter: everyone
    page = admin_client.get("/staff/members?show=unverified&q=ulla").get_data(as_text=True)
    assert "1 member (email not confirmed) match “ulla”." in page


def test_staff_who_are_not_admins_see_the_member_counts_without_the_admin_link(app, staff_client):
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert "with the staff role" in page and 'href="/staff/members"' not in page


# --- 4. the editor: one publish date, and the next step chosen -----------------------------------------------

def workflow_select(page: str) -> tuple[list[str], str | None]:
    select = re.search(r'<select[^>]* name="action"[^>]*>(.*?)</select>', page, re.S).group(1)
    options = re.findall(r'<option(?: selected)? value="([^"]+)"', select)
    selected = re.search(r'<option selected value="([^"]+)"', select)
    return options, selected.group(1) if selected else None


@pytest.mark.parametrize("status, publish_in, options, default", [
    ("draft", None, ["review", "publish", "archive"], "review"),
    ("review", None, ["publish", "unpublish", "archive"], "publish"),
    ("published", None, ["unpublish", "archive"], "archive"),
    ("published", timedelta(days=2), ["unpublish", "archive"], "unpublish"),
    ("archived", None, ["publish"], "publish"),
])
def test_the_workflow_offers_what_the_state_allows_and_picks_the_next_step(app, staff_client, status, publish_in,
                                                                           options, default):
    when = utcnow() + publish_in if publish_in else None
    resource_id = make_resource(app, title="Wombat memo", status=status, publish_at=when)
    page = staff_client.get(f"/staff/resources/{resource_id}/edit").get_data(as_text=True)
    assert workflow_select(page) == (options, default)
    assert page.count('type="datetime-local"') == 1 and 'name="publish_at"' not in page


def test_publish_uses_the_one_saved_date_to_schedule(app, staff_client):
    resource_id = make_resource(app, title="Wombat memo", status="draft")
    edit = f"/staff/resources/{resource_id}/edit"
    moment = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    saved = post_form(staff_client, edit, {"title": "Wombat memo", "type": "toolkit", "access": "public",
                                           "published_at": moment.strftime("%Y-%m-%dT%H:%M"), "action": "save"},
                      token_from=edit)
    assert saved.status_code == 302
    page = staff_client.get(edit).get_data(as_text=True)
    assert f"it is scheduled for {moment:%Y-%m-%d %H:%M} UTC" in page
    response = post_form(staff_client, f"/staff/resources/{resource_id}/status", {"action": "publish"},
                         token_from=edit, follow_redirects=True)
    assert "scheduled for" in response.get_data(as_text=True)
    state = resource_state(app, resource_id)
    assert state["status"] == "published" and state["published_at"] == moment
    # Its next step is now to take it back before it appears.
    assert workflow_select(staff_client.get(edit).get_data(as_text=True))[1] == "unpublish"


def test_an_unknown_workflow_action_is_refused_with_a_message(app, staff_client):
    resource_id = make_resource(app, title="Wombat memo", status="draft")
    edit = f"/staff/resources/{resource_id}/edit"
    response = post_form(staff_client, f"/staff/resources/{resource_id}/status", {"action": "destroy"},
                         token_from=edit, follow_redirects=True)
    assert "Choose a valid action." in response.get_data(as_text=True)
    assert resource_state(app, resource_id)["status"] == "draft"
