"""Staff write, preview, review, publish, unpublish and archive resources; readers see what they may."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.database import utcnow
from portal.extensions import db
from portal.library.models import Resource, ResourceRevision
from tests.conftest import create_member, login, post_form, unit
from tests.library_helpers import found_ids, make_resource, resource_state, sync_at

NEW = "/staff/resources/new"


def resource_form(**changes) -> dict:
    data = {"title": "Wombat crossing guidance", "slug": "", "summary": "How to route calls about wombats.",
            "body": "Send the **wildlife** team, not a patrol car.", "type": "guide",
            "audiences": ["practitioners", "officials"], "topics": "wildlife, dispatch", "jurisdiction": "denver",
            "external_url": "", "author": "Sam Staff", "access": "public", "members_until": "",
            "published_at": "", "action": "save"}
    data.update(changes)
    return data


def create_through_form(client, **changes) -> int:
    response = post_form(client, NEW, resource_form(**changes), token_from=NEW)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/staff/resources/(\d+)/edit", response.headers["Location"]).group(1))


def apply_status(client, resource_id, action):
    """The workflow form: publishing takes the date saved with the content (the editor's one date field)."""
    edit = f"/staff/resources/{resource_id}/edit"
    response = post_form(client, f"/staff/resources/{resource_id}/status", {"action": action},
                         token_from=edit, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def counts(app):
    with unit(app):
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Resource, ResourceRevision, AuditEvent)}


@pytest.fixture
def staff_client(client, staff):
    login(client, staff)
    return client


def test_staff_create_a_draft_that_nobody_else_sees(app, staff_client):
    resource_id = create_through_form(staff_client)
    state = resource_state(app, resource_id)
    assert state["status"] == "draft" and state["slug"] == "wombat-crossing-guidance"
    assert state["revisions"] == ["created"]
    page = staff_client.get(f"/staff/resources/{resource_id}/edit").get_data(as_text=True)
    assert "Status: <strong>draft</strong>" in page and "created by Sam Staff" in page
    with unit(app):
        resource = db.session.get(Resource, resource_id)
        assert resource.audiences == ["officials", "practitioners"] and resource.topics == ["wildlife", "dispatch"]
        assert resource.jurisdiction.slug == "denver"
    # Staff preview the draft's page; a visitor gets nothing, and search does not know it.
    assert "Staff preview" in staff_client.get("/resources/wombat-crossing-guidance").get_data(as_text=True)
    assert app.test_client().get("/resources/wombat-crossing-guidance").status_code == 404
    assert found_ids(app, "wombat") == []


def test_preview_renders_without_saving(app, staff_client):
    before = counts(app)
    response = post_form(staff_client, NEW, resource_form(action="preview", body="A *fresh* idea"), token_from=NEW)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview (not saved)" in html and "<em>fresh</em>" in html
    assert counts(app) == before

    resource_id = create_through_form(staff_client)
    before = counts(app)
    edit = f"/staff/resources/{resource_id}/edit"
    response = post_form(staff_client, edit, resource_form(action="preview", body="<script>x()</script> **New**"),
                         token_from=edit)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<strong>New</strong>" in html
    assert "<script>x()" not in html  # raw HTML is off in the Markdown
    assert counts(app) == before
    assert resource_state(app, resource_id)["body"] == "Send the **wildlife** team, not a patrol car."


def test_edit_saves_a_revision_and_reindexes(app, staff_client):
    resource_id = create_through_form(staff_client)
    apply_status(staff_client, resource_id, "publish")
    assert found_ids(app, "wombat") == [resource_id]
    edit = f"/staff/resources/{resource_id}/edit"
    # The editor shows the publish date as the browser will send it back.
    shown = re.search(r'name="published_at" type="datetime-local" value="([^"]+)"',
                      staff_client.get(edit).get_data(as_text=True)).group(1)
    response = post_form(staff_client, edit, resource_form(title="Kangaroo crossing guidance", published_at=shown,
                                                           slug="wombat-crossing-guidance"), token_from=edit)
    assert response.status_code == 302
    assert resource_state(app, resource_id)["revisions"][:2] == ["updated", "publish"]
    assert found_ids(app, "kangaroo") == [resource_id]
    assert found_ids(app, "crossing kangaroo") == [resource_id]
    assert found_ids(app, "wombat") == [resource_id]  # still in the summary
    page = staff_client.get(edit).get_data(as_text=True)
    assert re.search(r"updated by Sam Staff \([^)]*title[^)]*\)", page)
    # Saving again without changes adds no revision.
    post_form(staff_client, edit, resource_form(title="Kangaroo crossing guidance", slug="wombat-crossing-guidance",
                                                published_at=shown), token_from=edit)
    assert resource_state(app, resource_id)["revisions"].count("updated") == 1


def test_an_emptied_publish_date_keeps_a_published_resource_visible(app, staff_client):
    resource_id = create_through_form(staff_client)
    apply_status(staff_client, resource_id, "publish")
    published_at = resource_state(app, resource_id)["published_at"]
    edit = f"/staff/resources/{resource_id}/edit"
    response = post_form(staff_client, edit, resource_form(published_at="", summary="Changed summary."),
                         token_from=edit)
    assert response.status_code == 302
    state = resource_state(app, resource_id)
    assert state["status"] == "published" and state["published_at"] == published_at
    assert found_ids(app, "wombat") == [resource_id]
    assert app.test_client().get("/resources/wombat-crossing-guidance").status_code == 200


def test_the_whole_workflow_is_recorded_and_followed_by_the_index(app, staff_client):
    resource_id = create_through_form(staff_client)
    html = apply_status(staff_client, resource_id, "review")
    assert "Status: <strong>in review</strong>" in html
    assert found_ids(app, "wombat") == []

    html = apply_status(staff_client, resource_id, "publish")
    assert "Status: <strong>published</strong>" in html
    assert found_ids(app, "wombat") == [resource_id]
    assert app.test_client().get("/resources/wombat-crossing-guidance").status_code == 200

    apply_status(staff_client, resource_id, "unpublish")
    assert resource_state(app, resource_id)["status"] == "draft"
    assert found_ids(app, "wombat") == []
    assert app.test_client().get("/resources/wombat-crossing-guidance").status_code == 404

    apply_status(staff_client, resource_id, "publish")
    assert found_ids(app, "wombat") == [resource_id]
    apply_status(staff_client, resource_id, "archive")
    assert resource_state(app, resource_id)["status"] == "archived"
    assert found_ids(app, "wombat") == []
    assert app.test_client().get("/resources/wombat-crossing-guidance").status_code == 404

    revisions = resource_state(app, resource_id)["revisions"]
    assert revisions == ["archive", "publish", "unpublish", "publish", "submitted", "created"]
    page = staff_client.get(f"/staff/resources/{resource_id}/edit").get_data(as_text=True)
    history = re.search(r'<ol class="revisions">(.*?)</ol>', page, re.S).group(1)
    assert len(re.findall(r"<li>", history)) == 6 and history.count("by Sam Staff") == 6
    audit = staff_client.get("/staff/audit").get_data(as_text=True)
    for action in ("resource.created", "resource.submitted", "resource.publish", "resource.unpublish",
                   "resource.archive"):
        assert action in audit
    assert audit.count("resource wombat-crossing-guidance") == 6


INVALID_TRANSITIONS = [
    ("published", "review", "A resource that is published cannot be sent to review."),
    ("archived", "unpublish", "A resource that is archived cannot be sent to draft."),
    ("archived", "review", "A resource that is archived cannot be sent to review."),
    ("draft", "unpublish", "A resource that is draft cannot be sent to draft."),
    ("published", "publish", "A resource that is published cannot be sent to published."),
]


def test_invalid_transitions_give_a_clear_message(app, staff_client):
    for number, (start, action, message) in enumerate(INVALID_TRANSITIONS):
        resource_id = make_resource(app, title="Wombat memo", slug=f"wombat-{number}", status=start)
        before = resource_state(app, resource_id)
        html = apply_status(staff_client, resource_id, action)
        assert f'<p class="flash flash-error">{message}</p>' in html, (start, action)
        assert resource_state(app, resource_id) == before


def test_unknown_actions_are_refused(app, staff_client):
    resource_id = make_resource(app, title="Wombat memo", status="draft")
    html = apply_status(staff_client, resource_id, "destroy")
    assert "Choose a valid action." in html
    assert resource_state(app, resource_id)["status"] == "draft"


def test_scheduled_publish(app, staff_client):
    moment = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    resource_id = create_through_form(staff_client, published_at=moment.strftime("%Y-%m-%dT%H:%M"))
    html = apply_status(staff_client, resource_id, "publish")
    assert f"scheduled for {moment:%Y-%m-%d %H:%M} UTC" in html
    state = resource_state(app, resource_id)
    assert state["status"] == "published" and state["published_at"] == moment
    visitor = app.test_client()
    assert visitor.get("/resources/wombat-crossing-guidance").status_code == 404
    assert "Wombat crossing" not in visitor.get("/resources?q=*").get_data(as_text=True)
    assert "Wombat crossing" not in visitor.get("/feed.atom").get_data(as_text=True)
    assert found_ids(app, "wombat") == []
    sync_at(app, moment + timedelta(minutes=1))  # the worker's minutely sync indexes it once it is due
    assert found_ids(app, "wombat", now=moment + timedelta(minutes=1)) == [resource_id]
    # A staff preview says when it will appear.
    assert "scheduled for" in staff_client.get("/resources/wombat-crossing-guidance").get_data(as_text=True)


def test_publishing_keeps_an_existing_schedule(app):
    moment = utcnow() + timedelta(days=5)
    resource_id = make_resource(app, title="Wombat memo", status="draft", published_at=moment)
    with unit(app):
        from portal.library import services

        services.change_status(services.get_resource(resource_id), action="publish", actor=None)
    assert resource_state(app, resource_id)["published_at"] == moment
    assert found_ids(app, "wombat") == []


def test_slug_uniqueness_gives_a_clear_message_and_saves_nothing(app, staff_client):
    first = create_through_form(staff_client)
    before = counts(app)
    response = post_form(staff_client, NEW, resource_form(title="Another wombat"), token_from=NEW)
    assert response.status_code == 302  # a title-made slug is free
    before = counts(app)
    response = post_form(staff_client, NEW, resource_form(title="A clash", slug="wombat-crossing-guidance"),
                         token_from=NEW)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Another resource already uses that slug; choose another." in html
    assert counts(app) == before

    second = make_resource(app, title="Second wombat", slug="second-wombat")
    before, state = counts(app), resource_state(app, second)
    edit = f"/staff/resources/{second}/edit"
    response = post_form(staff_client, edit, resource_form(title="Renamed", slug="wombat-crossing-guidance"),
                         token_from=edit)
    assert response.status_code == 400
    assert "Another resource already uses that slug" in response.get_data(as_text=True)
    assert counts(app) == before and resource_state(app, second) == state
    assert found_ids(app, "renamed") == [] and found_ids(app, "second") == [second]
    assert resource_state(app, first)["slug"] == "wombat-crossing-guidance"


INVALID_FIELDS = [
    ({"slug": "Not A Slug!"}, "Use lower-case letters, digits and single hyphens"),
    ({"slug": "suggest"}, "That address is reserved"),
    ({"title": ""}, "Give the resource a title."),
    ({"type": "novel"}, "Not a valid choice"),
    ({"external_url": "javascript:alert(1)"}, "Give a full web address."),
    ({"jurisdiction": "atlantis"}, "Choose a jurisdiction from the list."),
    ({"topics": ",".join(f"topic {n}" for n in range(13))}, "Use at most 12 topics."),
]


def test_invalid_fields_are_explained(app, staff_client):
    before = counts(app)
    for changes, message in INVALID_FIELDS:
        response = post_form(staff_client, NEW, resource_form(**changes), token_from=NEW)
        assert response.status_code == 400, changes
        assert message in response.get_data(as_text=True), changes
    assert counts(app) == before


# --- what readers see ------------------------------------------------------------------------

SECRET_BODY = "The gingko procedure is for members only."


@pytest.fixture
def members_only(app):
    make_resource(app, title="Members-only wombat manual", slug="wombat-manual", access="members",
                  summary="What members will find inside.", body=SECRET_BODY)
    return "/resources/wombat-manual"


def test_members_only_page_for_visitors_shows_title_summary_and_a_join_prompt(client, members_only):
    html = client.get(members_only).get_data(as_text=True)
    assert "Members-only wombat manual" in html and "What members will find inside." in html
    assert "Join to read" in html and 'href="/signup"' in html
    assert "gingko" not in html


def test_unverified_members_do_not_see_the_body(app, client, members_only):
    create_member(app, verified=False)
    login(client)
    html = client.get(members_only).get_data(as_text=True)
    assert "Confirm your email address" in html and "gingko" not in html


def test_verified_members_read_the_body(app, client, members_only):
    create_member(app)
    login(client)
    html = client.get(members_only).get_data(as_text=True)
    assert "The gingko procedure is for members only." in html and "Join to read" not in html


def test_members_cannot_reach_staff_pages(app, client, members_only):
    resource_id = make_resource(app, title="Wombat memo", status="draft")
    create_member(app)
    paths = ["/staff/", "/staff/resources", NEW, f"/staff/resources/{resource_id}/edit", "/staff/suggestions",
             "/staff/audit"]
    for path in paths:
        assert client.get(path).status_code == 302, path  # visitors are sent to sign in
    login(client)
    for path in paths:
        assert client.get(path).status_code == 403, path
    for path in (NEW, f"/staff/resources/{resource_id}/edit", f"/staff/resources/{resource_id}/status",
                 f"/staff/resources/{resource_id}/files"):
        response = post_form(client, path, {"title": "Hijack", "type": "guide", "action": "publish"},
                             token_from="/account")
        assert response.status_code == 403, path
    assert resource_state(app, resource_id)["status"] == "draft"
    assert client.get("/resources/wombat-memo").status_code == 404  # a draft stays hidden from members too
