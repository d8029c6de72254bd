"""Every route declares who may see it, and each role gets exactly that.

The test walks app.url_map, so a route added by any later blueprint is checked without
touching this file, unless its URL has an argument not in SAMPLE_ARGUMENTS below: then
the test fails and asks for a sample value.
"""
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.database import utcnow
from portal.extensions import db, limiter
from portal.members.models import Member
from portal.security import LEVELS
from tests.conftest import create_member, csrf_token, login, PASSWORD, unit

# Lowest to highest: a role holding one level holds every level before it.
ORDER = ("public", "member", "verified", "representative", "staff", "admin")

# role -> (how create_member makes it, the highest level it holds)
ROLES = {
    "anonymous": (None, "public"),
    "unverified member": ({"role": "member", "verified": False}, "member"),
    "verified member": ({"role": "member", "verified": True}, "verified"),
    # Approved by staff for the sample jurisdiction (whose slug every <slug> route is walked with)...
    "representative": ({"role": "member", "verified": True, "represents": "sample"}, "representative"),
    # ...and for another one: on the sample jurisdiction's representative routes, only a verified member.
    "another jurisdiction's representative": ({"role": "member", "verified": True, "represents": "elsewhere"},
                                              "verified"),
    "staff": ({"role": "staff"}, "staff"),
    "admin": ({"role": "admin"}, "admin"),
}

# A sample value for every URL argument name any rule uses: a function of the Samples below,
# which makes real rows (through the services) so that allowed roles reach the view's real work.
# New routes with a new argument name must add it here; the tests fail and say so until they do.
SAMPLE_ARGUMENTS = {
    "token": lambda samples: "not-a-real-token",
    "member_id": lambda samples: samples.target_member(),
    # One slug for a resource, an event and a series, so every route taking a slug reaches a real row.
    "slug": lambda samples: samples.event()["slug"],
    "event_id": lambda samples: samples.event()["id"],
    "key": lambda samples: samples.event()["key"],
    "registration_id": lambda samples: samples.event()["registration_id"],
    "secret": lambda samples: samples.event()["secret"],
    "resource_id": lambda samples: samples.resource()["id"],
    "file_id": lambda samples: samples.attachment(),
    "saved_id": lambda samples: samples.saved_search(),
    "suggestion_id": lambda samples: samples.suggestion(),
    "program_id": lambda samples: samples.jurisdiction()["program_id"],
    "report_id": lambda samples: samples.jurisdiction()["report_id"],
    "token_id": lambda samples: samples.jurisdiction()["token_id"],
    "request_id": lambda samples: samples.jurisdiction()["request_id"],
    "application_id": lambda samples: samples.jurisdiction()["application_id"],
    "period_start": lambda samples: samples.jurisdiction()["period_start"],
    "analysis_id": lambda samples: samples.jurisdiction()["analysis_id"],
    "rule_id": lambda samples: samples.jurisdiction()["rule_id"],
    "profile_id": lambda samples: samples.profile(),
    "message_id": lambda samples: samples.message(),
}

IGNORED_ENDPOINTS = {"static"}
SAFE_METHODS = {"HEAD", "OPTIONS"}


def _rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in IGNORED_ENDPOINTS]


class Samples:
    """Sample URL arguments and the rows behind them, each made once per test."""

    def __init__(self, app):
        self.app = app
        self.made = {}

    def __getitem__(self, name):
        if name not in self.made:
            self.made[name] = SAMPLE_ARGUMENTS[name](self)
        return self.made[name]

    def _once(self, key, make):
        if key not in self.made:
            with unit(self.app):
                self.made[key] = make()
        return self.made[key]

    def target_member(self) -> int:
        """A verified member other than the one signed in."""
        return self._once("_target", lambda: create_member(self.app, email="target@example.org",
                                                           name="Tara Target"))

    def resource(self) -> dict:
        def make():
            from portal.library import services

            resource = services.create_resource(actor=None, title="Access test toolkit", type="toolkit",
                                                body="A public resource.")
            services.change_status(resource, action="publish", actor=None,
                                   publish_at=utcnow() - timedelta(minutes=5))
            return {"id": resource.id, "slug": resource.slug}
        return self._once("_resource", make)

    def event(self) -> dict:
        """An upcoming event (with a series) whose slug is the sample resource's, held by the target member."""
        # The rows it builds on are made first, each in its own unit of work (units do not nest here).
        slug, target_id = self.resource()["slug"], self.target_member()

        def make():
            from portal.events import account as event_account, registrations, services as events

            events.save_series(slug=slug, title="Access test series")
            start = (utcnow() + timedelta(days=7)).replace(microsecond=0)
            event = events.create_event(actor=None, title="Access test webinar", slug=slug, series=slug,
                                        starts_at=start, ends_at=start + timedelta(hours=1),
                                        timezone="America/Chicago", capacity=5,
                                        join_url="https://example.org/join/access-test")
            target = db.session.get(Member, target_id)
            registration = registrations.register(event, member=target)
            return {"id": event.id, "slug": slug, "key": registration.key, "registration_id": registration.id,
                    "secret": event_account.calendar_feed(target).secret}
        return self._once("_event", make)

    def jurisdiction(self) -> dict:
        """A jurisdiction with the sample slug, with a program, a report and an API token (made by the target
        member, its representative); a second jurisdiction ("elsewhere") the target asked to represent; a
        pending application to join."""
        slug, target_id = self.resource()["slug"], self.target_member()

        def make():
            from datetime import date

            from portal.calls import rules as calls
            from portal.jurisdictions import applications, metrics, programs, representatives, tokens
            from portal.jurisdictions.services import save_jurisdiction
            from tests.test_calls import sample_analysis

            jurisdiction, _ = save_jurisdiction(slug=slug, name="Access City", state="Ohio")
            elsewhere, _ = save_jurisdiction(slug="elsewhere", name="Elsewhere", state="Utah")
            target = db.session.get(Member, target_id)
            approved = representatives.request_representation(member=target, jurisdiction=jurisdiction,
                                                              role_title="Analyst")
            representatives.approve_representative(approved, actor=None)
            pending = representatives.request_representation(member=target, jurisdiction=elsewhere,
                                                             role_title="Analyst")
            program, _ = programs.save_program(jurisdiction, actor=None, name="Access responders",
                                               model="community_responder")
            report = metrics.report_metrics(jurisdiction, actor=None, origin="staff", period_start=date(2026, 1, 1),
                                            period_end=date(2026, 1, 31), total=1000, diverted=100)
            token, _ = tokens.create_token(jurisdiction, actor=target, name="Access token")
            application = applications.apply_to_join(name="Applicant Town", state="Iowa", contact_name="Ann",
                                                     contact_email="ann@example.org")
            analysis = sample_analysis(jurisdiction)
            rule = calls.save_rule(jurisdiction, actor=None, name="UNKNOWN THING", category="administrative")
            return {"slug": slug, "period_start": report.period_start.isoformat(), "program_id": program.id,
                    "report_id": report.id, "token_id": token.id, "request_id": pending.id,
                    "application_id": application.id, "analysis_id": analysis.id, "rule_id": rule.id}
        return self._once("_jurisdiction", make)

    def represent(self, email: str, where: str) -> None:
        """Make the member with this address the approved representative of the sample jurisdiction, or of
        the other one."""
        self.jurisdiction()

        def make():
            from portal.jurisdictions import representatives
            from portal.jurisdictions.services import get_jurisdiction
            from portal.members.services import find_member_by_email

            jurisdiction = get_jurisdiction(self.resource()["slug"] if where == "sample" else "elsewhere")
            request = representatives.request_representation(member=find_member_by_email(email),
                                                             jurisdiction=jurisdiction, role_title="Manager")
            representatives.approve_representative(request, actor=None)
            return True
        self._once(f"_represent_{email}", make)

    def profile(self) -> int:
        """The target member, listed in the member directory."""
        target_id = self.target_member()

        def make():
            from portal.network import services as network

            return network.save_profile(db.session.get(Member, target_id), is_listed=True,
                                        display_name="Tara Target", sector="researcher").id
        return self._once("_profile", make)

    def message(self) -> int:
        """A message to the target member through the directory, from a second listed member (reported to staff,
        so the staff routes on reports have it too)."""
        profile_id = self.profile()
        sender_id = self._once("_sender", lambda: create_member(self.app, email="sender@example.org",
                                                               name="Sam Sender"))

        def make():
            from portal.network import contact, services as network
            from portal.network.models import NetworkProfile

            target = db.session.get(NetworkProfile, profile_id)
            target.is_open_to_contact = True
            sender = db.session.get(Member, sender_id)
            network.save_profile(sender, is_listed=True, display_name="Sam Sender")
            message = contact.send_message(sender, target, subject="Triage of welfare checks",
                                           body="How do you triage them?")
            contact.report_message(target.member, message, reason="A test report.")
            return message.id
        return self._once("_message", make)

    def attachment(self) -> int:
        def make():
            from portal.library import attachments, services

            resource = services.get_resource(self.resource()["id"])
            return attachments.attach_file(resource, actor=None, filename="calls.csv",
                                           data=b"call_type,count\nwelfare check,12\n").id
        return self._once("_attachment", make)

    def saved_search(self) -> int:
        def make():
            from portal.library import alerts

            return alerts.save_search(member=db.session.get(Member, self.target_member()),
                                      args={"q": ["dispatch"]}).id
        return self._once("_saved", make)

    def suggestion(self) -> int:
        def make():
            from portal.library import suggestions

            return suggestions.submit_suggestion(member=db.session.get(Member, self.target_member()),
                                                 title="A suggested toolkit", type="toolkit").id
        return self._once("_suggestion", make)


def sample_path(samples: Samples, rule) -> str:
    unknown = sorted(set(rule.arguments) - set(SAMPLE_ARGUMENTS))
    assert not unknown, (
        f"route {rule.rule} ({rule.endpoint}) has URL argument(s) {unknown} with no sample value: "
        f"add them to SAMPLE_ARGUMENTS in tests/test_access.py")
    values = {name: samples[name] for name in rule.arguments}
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} from {values}: fix its sample values"
    return built[1]


def _method(rule) -> str:
    methods = set(rule.methods) - SAFE_METHODS
    if "GET" in methods:
        return "GET"
    if "POST" in methods:
        return "POST"
    assert methods, f"route {rule.rule} accepts no method"
    return sorted(methods)[0]


def _login_redirect(response) -> bool:
    return 300 <= response.status_code < 400 and \
        urlsplit(response.headers.get("Location", "")).path == "/login"


def test_every_endpoint_declares_an_access_level(app):
    assert set(LEVELS) == set(ORDER), "a new access level: teach ORDER and ROLES in tests/test_access.py about it"
    missing = []
    for rule in _rules(app):
        view = app.view_functions.get(rule.endpoint)
        level = getattr(view, "access_level", None)
        if level not in LEVELS:
            missing.append(f"{rule.rule} ({rule.endpoint}): access_level={level!r}")
    assert not missing, "routes without portal.security.access(level):\n" + "\n".join(missing)


def test_every_url_argument_has_a_sample_value(app):
    samples = Samples(app)
    for rule in _rules(app):
        sample_path(samples, rule)


def role_member(app, role: str, samples: Samples) -> str | None:
    """Make the member who holds the role (a representative is approved for their jurisdiction); their
    address, or None for the anonymous role."""
    how, _ = ROLES[role]
    if how is None:
        return None
    how = dict(how)
    represents = how.pop("represents", None)
    email = f"{role.replace(' ', '-').replace(chr(39), '')}@example.org"
    create_member(app, email=email, name=f"Test {role}", **how)
    if represents:
        samples.represent(email, represents)
    return email


def _session_for(app, role, samples):
    """A client signed in as the role, the session cookie to restore before each request, and a CSRF token."""
    client = app.test_client()
    email = role_member(app, role, samples)
    if email is not None:
        login(client, email, PASSWORD)
    token = csrf_token(client)
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(cookie_name)
    assert cookie is not None, "no session cookie after reading the CSRF token"
    return client, cookie_name, cookie.value, token


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_gets_exactly_its_access(app, role):
    samples = Samples(app)
    client, cookie_name, cookie_value, token = _session_for(app, role, samples)
    held = ORDER.index(ROLES[role][1])
    failures = []
    # Signing out ends the member's session everywhere (the session token rotates, so the restored cookie
    # would stop working): it is walked last.
    for rule in sorted(_rules(app), key=lambda rule: rule.endpoint == "members.logout"):
        level = app.view_functions[rule.endpoint].access_level
        allowed = ORDER.index(level) <= held
        path = sample_path(samples, rule)
        method = _method(rule)
        # Every request starts from the same signed-in session (a POST to /logout must not
        # sign out the rest of the walk) and from empty rate-limit counters.
        client.set_cookie(cookie_name, cookie_value)
        with unit(app):
            limiter.reset()
        if method == "GET":
            response = client.get(path)
        else:
            response = client.open(path, method=method, data={"csrf_token": token},
                                   headers={"X-CSRFToken": token})
        response.close()  # a file download streams from an open file
        status = response.status_code
        where = f"{method} {path} ({rule.endpoint}, level {level!r}) as {role}: {status}"
        if status >= 500:
            failures.append(f"{where}: server error")
        elif allowed:
            if status == 403 or _login_redirect(response):
                failures.append(f"{where}: refused, but {role} holds {level!r} "
                                f"(Location: {response.headers.get('Location')})")
        elif role == "anonymous":
            if path.startswith("/api/") and status == 401:
                continue  # a JSON API answers 401 rather than redirecting to an HTML sign-in page
            if not _login_redirect(response):
                failures.append(f"{where}: expected a redirect to /login (Location: {response.headers.get('Location')})")
            else:
                query = parse_qs(urlsplit(response.headers["Location"]).query)
                if query.get("next") != [path]:
                    failures.append(f"{where}: sign-in redirect should carry next={path!r}, got {query.get('next')}")
        elif status != 403:
            failures.append(f"{where}: expected 403 (Location: {response.headers.get('Location')})")
    assert not failures, f"{len(failures)} access problem(s):\n" + "\n".join(failures)
