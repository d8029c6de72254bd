"""The unit of work: one commit per request, command or content load, then its after-commit actions.

Each test makes a unit fail halfway and finds nothing saved, indexed or mailed."""
from textwrap import dedent

import pytest
from sqlalchemy import event, func, select

from portal import uow
from portal.extensions import db
from portal.library import services, suggestions
from portal.library.models import Resource, ResourceRevision, Suggestion
from portal.members.services import find_member_by_email
from tests.conftest import create_member, login, post_form, unit
from tests.library_helpers import found_ids, indexed_ids, make_resource


# --- the mechanism ---------------------------------------------------------------------------

def test_actions_run_after_the_commit_in_order_and_never_after_a_rollback(app):
    ran = []
    with unit(app):
        make = services.create_resource(actor=None, title="Ordered wombat", type="guide")
        uow.after_commit(lambda: ran.append(("first", db.session.get(Resource, make.id) is not None)))
        uow.after_commit(lambda: ran.append(("second", True)))
        assert ran == []  # nothing runs before the commit
    assert ran == [("first", True), ("second", True)]  # and the row was there when it ran

    ran.clear()
    with pytest.raises(RuntimeError), unit(app):
        services.create_resource(actor=None, title="Doomed wombat", type="guide")
        uow.after_commit(lambda: ran.append("never"))
        raise RuntimeError("the unit fails")
    assert ran == []
    with unit(app):
        assert db.session.scalar(select(Resource).where(Resource.title == "Doomed wombat")) is None


def test_a_keyed_action_runs_once_and_collected_items_reach_one_call(app):
    calls = []
    with unit(app):
        for _ in range(3):
            uow.after_commit(lambda: calls.append("keyed"), key="only-once")
        for item in ("a", "b", "a", "c"):
            uow.collect("letters", item, lambda items: calls.append(items))
        uow.after_commit(lambda: None)  # work of some kind, so the unit commits
    assert calls == ["keyed", ["a", "b", "c"]]


def test_an_action_registered_by_an_action_runs_too(app):
    ran = []
    with unit(app):
        services.create_resource(actor=None, title="Chained wombat", type="guide")
        uow.after_commit(lambda: uow.after_commit(lambda: ran.append("second round")))
    assert ran == ["second round"]


def test_a_failing_action_is_logged_and_the_others_still_run(app, caplog):
    ran = []
    with unit(app):
        services.create_resource(actor=None, title="Sturdy wombat", type="guide")
        uow.after_commit(lambda: 1 / 0)
        uow.after_commit(lambda: ran.append("after"))
    assert ran == ["after"]
    assert "an after-commit action failed" in caplog.text
    with unit(app):
        assert db.session.scalar(select(Resource).where(Resource.title == "Sturdy wombat")) is not None


def test_nested_units_join_the_outermost_one(app):
    ran = []
    with pytest.raises(RuntimeError), unit(app):
        with uow.unit_of_work():
            services.create_resource(actor=None, title="Inner wombat", type="guide")
            uow.after_commit(lambda: ran.append("inner"))
        assert ran == []  # the inner block did not commit on its own
        raise RuntimeError("the outer unit fails")
    assert ran == []
    with unit(app):
        assert db.session.scalar(select(Resource).where(Resource.title == "Inner wombat")) is None


def test_services_compose_without_committing_halfway(app):
    """create_resource, then change_status: one commit, one index write with the published document."""
    commits = []
    with unit(app):
        event.listen(db.session(), "after_commit", lambda session: commits.append(1))
        resource = services.create_resource(actor=None, title="Composed wombat", type="guide")
        services.change_status(resource, action="publish", actor=None)
        assert found_ids(app, "composed") == []  # not indexed before the commit
    assert commits == [1]
    assert found_ids(app, "composed") == [resource.id]


# --- a request that fails halfway -------------------------------------------------------------

@pytest.fixture
def pending_suggestion(app, staff):
    create_member(app)
    with unit(app):
        member = find_member_by_email("member@example.org")
        return suggestions.submit_suggestion(member=member, title="Wombat transfer protocol", type="policy",
                                             summary="How call-takers hand over wombat calls.").id


def _counts():
    return (db.session.scalar(select(func.count()).select_from(Resource)),
            db.session.scalar(select(func.count()).select_from(ResourceRevision)))


def test_accepting_a_suggestion_that_fails_halfway_saves_indexes_and_mails_nothing(app, staff, pending_suggestion,
                                                                                   outbox, monkeypatch):
    staff_client = app.test_client()
    login(staff_client, staff)
    with unit(app):
        before = _counts()
    mails_before = len(outbox.messages())

    def fail_after_the_draft_exists(*args, **kwargs):
        raise RuntimeError("the database went away between the draft and the decision")

    # accept_suggestion creates the draft (flushed, reindex queued), then records the decision: fail there.
    monkeypatch.setattr(suggestions, "_decide", fail_after_the_draft_exists)
    with pytest.raises(RuntimeError):  # TESTING propagates; in production this is the 500 page
        post_form(staff_client, f"/staff/suggestions/{pending_suggestion}", {"decision": "accept", "note": "Thanks"},
                  token_from="/staff/suggestions")

    with unit(app):
        assert _counts() == before  # no orphan draft, no revision
        assert db.session.get(Suggestion, pending_suggestion).status == "pending"
    assert found_ids(app, "wombat transfer") == [] and indexed_ids(app) == set()
    assert len(outbox.messages()) == mails_before


def test_a_form_answered_with_an_error_has_saved_nothing(app, staff):
    """The editor changes the row, then the service refuses the slug: the 400 page rolls everything back."""
    staff_client = app.test_client()
    login(staff_client, staff)
    make_resource(app, title="First wombat", slug="first-wombat")
    second = make_resource(app, title="Second wombat", slug="second-wombat")
    path = f"/staff/resources/{second}/edit"
    response = post_form(staff_client, path, {"title": "Renamed wombat", "slug": "first-wombat", "type": "guide",
                                              "access": "public"}, token_from=path)
    assert response.status_code == 400
    assert "Another resource already uses that slug" in response.get_data(as_text=True)
    with unit(app):
        row = db.session.get(Resource, second)
        assert (row.title, row.slug) == ("Second wombat", "second-wombat")
    assert found_ids(app, "renamed") == []


# --- a content load that fails halfway -----------------------------------------------------------

RESOURCE = """\
---
title: {title}
slug: {slug}
type: guide
summary: A guide about {slug}.
---
Body of {slug}.
"""


def test_a_content_load_that_fails_halfway_saves_and_indexes_nothing(app, runner, tmp_path, monkeypatch):
    folder = tmp_path / "content"
    (folder / "resources").mkdir(parents=True)
    for number, slug in enumerate(["alpha-wombat", "beta-wombat", "gamma-wombat"]):
        (folder / "resources" / f"{number}-{slug}.md").write_text(RESOURCE.format(title=slug.title(), slug=slug))
    real_create = services.create_resource
    made = []

    def create_then_fail_on_the_third(**fields):
        made.append(fields["slug"])
        if len(made) == 3:
            raise RuntimeError("disk full")
        return real_create(**fields)

    monkeypatch.setattr("portal.content.create_resource", create_then_fail_on_the_third)
    result = runner.invoke(args=["content", "load", str(folder)])
    assert result.exit_code != 0 and made == ["alpha-wombat", "beta-wombat", "gamma-wombat"]
    with unit(app):
        assert _counts() == (0, 0)
    assert indexed_ids(app) == set()

    monkeypatch.setattr("portal.content.create_resource", real_create)
    result = runner.invoke(args=["content", "load", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("3 created or updated, 0 unchanged.")
    assert len(indexed_ids(app)) == 3


def test_a_content_file_with_an_error_leaves_nothing_of_the_load(app, runner, tmp_path):
    folder = tmp_path / "content"
    (folder / "resources").mkdir(parents=True)
    (folder / "resources" / "a-good.md").write_text(RESOURCE.format(title="Good wombat", slug="good-wombat"))
    (folder / "resources" / "b-bad.md").write_text(dedent("""\
        ---
        title: Bad wombat
        type: not-a-type
        ---
        Body.
        """))
    result = runner.invoke(args=["content", "load", str(folder)])
    assert result.exit_code != 0
    assert "b-bad.md: Choose a resource type from the list." in result.output
    assert "nothing was saved" in result.output
    with unit(app):
        assert _counts() == (0, 0)
    assert indexed_ids(app) == set()


def test_mail_registered_by_a_unit_that_then_fails_is_never_sent(app, staff, pending_suggestion, outbox):
    mails_before = len(outbox.messages())
    with pytest.raises(RuntimeError), unit(app):
        staff_member = find_member_by_email(staff)
        suggestions.decline_suggestion(db.session.get(Suggestion, pending_suggestion), actor=staff_member,
                                       note="We list a similar protocol already.")
        raise RuntimeError("something later in the same unit fails")
    assert len(outbox.messages()) == mails_before
    with unit(app):
        assert db.session.get(Suggestion, pending_suggestion).status == "pending"

    with unit(app):  # the same decline in a unit that ends well: saved, then mailed
        suggestions.decline_suggestion(db.session.get(Suggestion, pending_suggestion),
                                       actor=find_member_by_email(staff), note="We list a similar protocol already.")
    assert outbox.last("member@example.org")["Subject"] == "About the resource you suggested"
