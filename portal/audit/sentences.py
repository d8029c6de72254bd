"""The audit log as sentences: the one place that says, for each action, what happened to what.

An event stores its subject as text ("resource journalists-toolkit", "member #12", "suggestion #3"), which
stays readable after the thing is renamed or deleted. To name the subject as it is now and link to its staff
page, the subjects of a page of events are loaded together: one query per kind, whatever the page's length.
"""
import re
from collections import defaultdict
from dataclasses import dataclass

from flask import url_for
from markupsafe import Markup, escape
from sqlalchemy import select

from portal.events.models import Event
from portal.extensions import db
from portal.jurisdictions.models import JoinApplication, Jurisdiction
from portal.library.models import Resource, Suggestion
from portal.members.models import Member

_SUBJECT = re.compile(r"^(?P<kind>[a-z_]+) (?:#(?P<number>\d+)|(?P<slug>\S+))$")

FIELD_WORDS = {"published_at": "publish date", "members_until": "members-only date", "is_featured": "featuring",
               "jurisdiction_id": "jurisdiction", "external_url": "external link",
               "starts_at": "start", "ends_at": "end", "timezone": "time zone",
               "registration_opens_at": "registration opening", "registration_closes_at": "registration closing",
               "has_waitlist": "waiting list", "registration": "who may register", "join_url": "join link",
               "recording_url": "recording", "slides_id": "slides", "series_id": "series",
               "goal_rate": "target rate", "goal_year": "target year", "goal_baseline_rate": "baseline rate",
               "goal_baseline_year": "baseline year", "goal_source": "goal's source", "annual_calls": "annual calls",
               "annual_calls_source": "annual calls' source", "is_partner": "partnership", "joined_on": "joining date",
               "links": "dashboard links"}


@dataclass
class Subject:
    """What an event is about, as shown: its current name and its staff page, when it still exists."""

    kind: str
    label: str
    url: str | None = None

    def html(self) -> Markup:
        label = Markup("<cite>%s</cite>") % self.label if self.kind in ("resource", "suggestion") \
            else escape(self.label)
        return Markup('<a href="%s">%s</a>') % (self.url, label) if self.url else label


@dataclass
class Sentence:
    """One event told as "who did what to which thing, when"."""

    event: object
    text: Markup

    @property
    def when(self) -> str:
        moment = self.event.created_at
        return f"{moment.day} {moment:%b %Y %H:%M} UTC"


def _words(items) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _fields(details) -> str:
    fields = details.get("fields")
    names = [FIELD_WORDS.get(str(name), str(name).replace("_", " ")) for name in fields] \
        if isinstance(fields, list) else []
    return _words(names)


def _edited(actor, subject, details):
    fields = _fields(details)
    if fields:
        return Markup("%s changed the %s of the resource %s") % (actor, fields, subject)
    return Markup("%s edited the resource %s") % (actor, subject)


def _event_edited(actor, subject, details):
    fields = _fields(details)
    if fields:
        return Markup("%s changed the %s of the event %s") % (actor, fields, subject)
    return Markup("%s edited the event %s") % (actor, subject)


def _jurisdiction_edited(actor, subject, details):
    fields = _fields(details)
    return Markup("%s changed the %s of %s") % (actor, fields or "page", subject)


def _via(details) -> str:
    origin = details.get("origin")
    return {"form": " (form)", "csv": " (CSV upload)", "api": " (API)", "content": " (default content)",
            "analysis": " (call-type analysis)"}.get(
        origin, "")


def _count(details, key: str, word: str, plural: str = "") -> str:
    """"3 registrants" from the event's details; a count that is missing or not a number reads "some"."""
    plural = plural or word + "s"
    number = details.get(key)
    if isinstance(number, bool) or not isinstance(number, int):
        return f"some {plural}"
    return f"{number} {word if number == 1 else plural}"


def _messaged(actor, subject, details):
    said = Markup("%s wrote to %s of the event %s") % (actor, _count(details, "recipients", "registrant"), subject)
    if details.get("message_subject"):
        said += Markup(": “%s”") % details["message_subject"]
    return said


# action -> sentence(actor html, subject html, details): each action of the site said in words.
SENTENCES = {
    "member.email_verified": lambda a, s, d: Markup("%s confirmed their email address") % a,
    "member.password_reset": lambda a, s, d: Markup("%s reset their password from an emailed link") % a,
    "member.password_changed": lambda a, s, d: Markup("%s changed their password") % a,
    "member.email_changed": lambda a, s, d: Markup("%s changed their email address") % a,
    "member.deleted": lambda a, s, d: Markup("%s deleted their account") % s,
    "network.listed": lambda a, s, d: Markup("%s listed themself in the member directory") % a,
    "network.unlisted": lambda a, s, d: Markup("%s left the member directory") % a,
    "network.reported": lambda a, s, d: Markup("%s reported a message from %s to staff") % (a, s),
    "network.report_dismissed": lambda a, s, d: Markup("%s dismissed a report on a message from %s") % (a, s),
    "network.hide": lambda a, s, d: Markup("%s hid the directory profile of %s") % (a, s),
    "network.show": lambda a, s, d: Markup("%s showed the directory profile of %s again") % (a, s),
    "network.suspend": lambda a, s, d: Markup("%s suspended the directory access of %s") % (a, s),
    "network.restore": lambda a, s, d: Markup("%s gave %s their directory access back") % (a, s),
    "member.admin_created": lambda a, s, d: Markup("%s was made an admin from the command line") % s,
    "member.role_changed": lambda a, s, d: Markup("%s changed the role of %s from %s to %s") % (
        a, s, d.get("old", "another role"), d.get("new", "another role")),
    "resource.created": lambda a, s, d: Markup("%s created the resource %s as a draft") % (a, s),
    "resource.updated": _edited,
    "resource.submitted": lambda a, s, d: Markup("%s sent the resource %s to review") % (a, s),
    "resource.publish": lambda a, s, d: Markup("%s published the resource %s") % (a, s),
    "resource.unpublish": lambda a, s, d: Markup("%s moved the resource %s back to draft") % (a, s),
    "resource.archive": lambda a, s, d: Markup("%s archived the resource %s") % (a, s),
    "resource.file_added": lambda a, s, d: Markup("%s attached the file %s to the resource %s") % (
        a, d.get("file", "a file"), s),
    "resource.file_removed": lambda a, s, d: Markup("%s removed the file %s from the resource %s") % (
        a, d.get("file", "a file"), s),
    "suggestion.submitted": lambda a, s, d: Markup("%s suggested the resource %s") % (a, s),
    "suggestion.accepted": lambda a, s, d: Markup("%s accepted the suggestion %s as a draft") % (a, s),
    "suggestion.declined": lambda a, s, d: Markup("%s declined the suggestion %s") % (a, s),
    "event.created": lambda a, s, d: Markup("%s scheduled the event %s") % (a, s),
    "event.updated": _event_edited,
    "event.cancelled": lambda a, s, d: Markup("%s cancelled the event %s") % (a, s),
    "event.attendance": lambda a, s, d: Markup("%s marked attendance at the event %s: %s attended") % (
        a, s, _count(d, "attended", "person", "people")),
    "event.messaged": _messaged,
    "event.registration_cancelled": lambda a, s, d: Markup("%s cancelled a registration (#%s) for the event %s")
    % (a, d.get("registration", "?"), s),
    "event.calendar_reset": lambda a, s, d: Markup("%s reset their private calendar address") % a,
    "event.series_saved": lambda a, s, d: Markup("%s saved the webinar series %s") % (a, s),
    "jurisdiction.updated": _jurisdiction_edited,
    "metrics.report": lambda a, s, d: Markup("%s reported the metrics of %s for %s%s") % (
        a, s, d.get("period", "a period"), _via(d)),
    "metrics.correct": lambda a, s, d: Markup("%s corrected the metrics of %s for %s%s") % (
        a, s, d.get("period", "a period"), _via(d)),
    "metrics.delete": lambda a, s, d: Markup("%s deleted the metrics of %s for %s%s") % (
        a, s, d.get("period", "a period"), _via(d)),
    "metrics.import": lambda a, s, d: Markup("%s uploaded metrics of %s: %s added, %s corrected%s") % (
        a, s, d.get("created", "some"), d.get("corrected", "some"), _via(d)),
    "analysis.uploaded": lambda a, s, d: Markup("%s uploaded dispatch data of %s for a call-type analysis (#%s)")
    % (a, s, d.get("analysis", "?")),
    "analysis.deleted": lambda a, s, d: Markup("%s deleted the call-type analysis #%s of %s") % (
        a, d.get("analysis", "?"), s),
    "analysis.rule_saved": lambda a, s, d: Markup("%s classified the call type “%s” of %s as %s") % (
        a, d.get("name", "?"), s, d.get("category", "?")),
    "analysis.rule_deleted": lambda a, s, d: Markup("%s removed the classification line “%s” of %s") % (
        a, d.get("name", "?"), s),
    "analysis.code_table": lambda a, s, d: Markup("%s set the code table of %s (%s)") % (
        a, s, _count(d, "codes", "code")),
    "program.saved": lambda a, s, d: Markup("%s saved the program %s of %s") % (a, d.get("program", "?"), s),
    "program.deleted": lambda a, s, d: Markup("%s removed the program %s of %s") % (a, d.get("program", "?"), s),
    "token.create": lambda a, s, d: Markup("%s made the API token “%s” for %s") % (a, d.get("name", "?"), s),
    "token.revoke": lambda a, s, d: Markup("%s revoked the API token “%s” of %s") % (a, d.get("name", "?"), s),
    "representative.requested": lambda a, s, d: Markup("%s asked to represent %s") % (a, s),
    "representative.approved": lambda a, s, d: Markup("%s approved member #%s as a representative of %s") % (
        a, d.get("member", "?"), s),
    "representative.declined": lambda a, s, d: Markup("%s declined member #%s as a representative of %s") % (
        a, d.get("member", "?"), s),
    "representative.revoked": lambda a, s, d: Markup("%s ended member #%s's representation of %s") % (
        a, d.get("member", "?"), s),
    "application.submitted": lambda a, s, d: Markup("%s applied to join the initiative (application %s)") % (
        d.get("name", "A jurisdiction"), s),
    "application.approved": lambda a, s, d: Markup("%s approved the application of %s to join the initiative") % (
        a, s),
    "application.declined": lambda a, s, d: Markup("%s declined the application %s of %s") % (
        a, s, d.get("name", "a jurisdiction")),
}


def _fallback(action: str):
    """An action nobody taught this module yet still reads as words: "Sam Staff: event published, event x"."""
    words = action.replace(".", " ").replace("_", " ")
    return lambda a, s, d: Markup("%s: %s, %s") % (a, words, s)


def parse_subject(text: str) -> tuple[str, object] | None:
    """("member", 12) from "member #12", ("resource", "slug") from "resource slug"; None for anything else."""
    match = _SUBJECT.match(text or "")
    if match is None:
        return None
    number = match.group("number")
    return match.group("kind"), int(number) if number is not None else match.group("slug")


# --- subjects, loaded a page at a time --------------------------------------------------------------------

def _members(keys, viewer) -> dict:
    ids = [key for key in keys if isinstance(key, int)]
    found = {}
    for member in db.session.scalars(select(Member).where(Member.id.in_(ids))) if ids else ():
        # Only admins have a staff page for members.
        url = url_for("members_staff.member_list", q=member.email) if viewer is not None and viewer.is_admin \
            else None
        found[member.id] = Subject("member", member.name, url)
    return found


def _resources(keys, viewer) -> dict:
    slugs = [key for key in keys if isinstance(key, str)]
    rows = db.session.execute(select(Resource.id, Resource.slug, Resource.title)
                              .where(Resource.slug.in_(slugs))) if slugs else ()
    return {slug: Subject("resource", title, url_for("library_staff.edit_resource", resource_id=id_))
            for id_, slug, title in rows}


def _suggestions(keys, viewer) -> dict:
    ids = [key for key in keys if isinstance(key, int)]
    rows = db.session.execute(select(Suggestion.id, Suggestion.title, Suggestion.status, Suggestion.resource_id)
                              .where(Suggestion.id.in_(ids))) if ids else ()
    found = {}
    for id_, title, status, resource_id in rows:
        if status == "pending":
            url = url_for("library_staff.suggestion_queue", _anchor=f"suggestion-{id_}")
        elif resource_id is not None:  # accepted: its page is now the draft it became
            url = url_for("library_staff.edit_resource", resource_id=resource_id)
        else:
            url = None
        found[id_] = Subject("suggestion", title, url)
    return found


def _events(keys, viewer) -> dict:
    slugs = [key for key in keys if isinstance(key, str)]
    rows = db.session.execute(select(Event.id, Event.slug, Event.title)
                              .where(Event.slug.in_(slugs))) if slugs else ()
    return {slug: Subject("event", title, url_for("events_staff.edit", event_id=id_)) for id_, slug, title in rows}


def _jurisdictions(keys, viewer) -> dict:
    slugs = [key for key in keys if isinstance(key, str)]
    rows = db.session.execute(select(Jurisdiction.slug, Jurisdiction.name)
                              .where(Jurisdiction.slug.in_(slugs))) if slugs else ()
    return {slug: Subject("jurisdiction", name, url_for("jurisdictions.show", slug=slug)) for slug, name in rows}


def _applications(keys, viewer) -> dict:
    ids = [key for key in keys if isinstance(key, int)]
    rows = db.session.execute(select(JoinApplication.id, JoinApplication.name, JoinApplication.state)
                              .where(JoinApplication.id.in_(ids))) if ids else ()
    return {id_: Subject("application", f"#{id_} ({name}, {state})",
                         url_for("jurisdictions_staff.review_application", application_id=id_))
            for id_, name, state in rows}


LOADERS = {"member": _members, "resource": _resources, "suggestion": _suggestions, "event": _events,
           "jurisdiction": _jurisdictions, "application": _applications}


def _gone(kind: str, key, text: str) -> Subject:
    """A subject that no longer exists (or was never loadable) keeps the words it was recorded with."""
    if kind == "member":
        return Subject("member", f"Member #{key}")
    if kind == "resource":
        return Subject("resource", str(key))
    if kind == "suggestion":
        return Subject("suggestion", f"#{key}")
    if kind in ("event", "jurisdiction"):
        return Subject(kind, str(key))
    if kind == "application":
        return Subject("application", f"#{key}")
    return Subject(kind, text)


def _actor(event) -> Markup:
    if event.actor is not None:
        return escape(event.actor.name)
    return Markup("A command or a removed account") if event.actor_id is None else Markup("A removed account")


def describe_events(events, *, viewer=None) -> list[Sentence]:
    """The events as sentences, with their subjects loaded in one query per kind."""
    events = list(events)
    wanted = defaultdict(set)
    parsed = {}
    for event in events:
        parsed[event.id] = parse_subject(event.subject)
        if parsed[event.id] is not None and parsed[event.id][0] in LOADERS:
            wanted[parsed[event.id][0]].add(parsed[event.id][1])
    loaded = {kind: LOADERS[kind](keys, viewer) for kind, keys in wanted.items()}
    sentences = []
    for event in events:
        subject_key = parsed[event.id]
        say = SENTENCES.get(event.action)
        if subject_key is None:
            subject = Subject("", event.subject)
        else:
            kind, key = subject_key
            # An action with no sentence of its own does not name the kind: a gone subject keeps its whole text.
            subject = loaded.get(kind, {}).get(key) or (_gone(kind, key, event.subject) if say is not None
                                                        else Subject("", event.subject))
        say = say or _fallback(event.action)
        sentences.append(Sentence(event, say(_actor(event), subject.html(), event.details or {})))
    return sentences
