"""Membership forms: shape only (lengths, formats, required)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.events.services import known_timezones
from portal.forms import no_control_characters
from portal.jurisdictions.services import list_jurisdictions
from portal.members.models import SECTORS
from portal.members.passwords import MAX_LENGTH, MIN_LENGTH, password_problem

SECTOR_CHOICES = [SelectChoice("", "Choose a sector")] + [SelectChoice(value, label)
                                                          for value, label in SECTORS.items()]


def _strong_password(email_field: str | None = "email"):
    def check(form, field):
        email = getattr(form, email_field).data if email_field and hasattr(form, email_field) else ""
        problem = password_problem(field.data or "", email or "")
        if problem:
            raise ValidationError(problem)
    return check


def _email_field(label="Email address"):
    return EmailField(label, validators=[DataRequired("Enter your email address."),
                                         Length(max=254, message="Use at most 254 characters."),
                                         no_control_characters],
                      render_kw={"autocomplete": "email"})


def _text(label, max_length, required=False, autocomplete=None, description=""):
    validators = [Length(max=max_length, message=f"Use at most {max_length} characters."), no_control_characters]
    if required:
        validators.insert(0, DataRequired(f"Enter your {label.lower()}."))
    return StringField(label, validators=validators, description=description,
                       render_kw={"autocomplete": autocomplete} if autocomplete else None)


def jurisdiction_field(label="City, county or jurisdiction"):
    # The service checks the choice (one message for a stale or forged value); the choices are the
    # directory's, filled in by JurisdictionChoices when the form is made.
    return SelectField(label, choices=[], validate_choice=False, validators=[Optional()])


def jurisdiction_other_field(label="Other place"):
    return _text(label, 120, description="If yours is not in the list: its name and state.")


class JurisdictionChoices:
    """Forms with a jurisdiction select: the directory's jurisdictions, by label, plus "none"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.jurisdiction.choices = [SelectChoice("", "None, or not listed")] + [
            SelectChoice(j.slug, j.label) for j in list_jurisdictions()]


def _name_field():
    return _text("Name", 120, required=True, autocomplete="name")


def _sector_field():
    return SelectField("Sector", choices=SECTOR_CHOICES, validate_choice=False,  # one message, below
                       validators=[InputRequired("Choose a sector.")])


def _alerts_field():
    return BooleanField("Email me when new resources are published")


class _ProfileChecks(JurisdictionChoices):
    def validate_sector(self, field):
        if field.data not in SECTORS:
            raise ValidationError("Choose a sector from the list.")


# Fields are declared in the order their page shows them: WTForms keeps the order in which fields are made,
# and the error summary lists the errors in that order.
class SignupForm(_ProfileChecks, FlaskForm):
    name = _name_field()
    email = _email_field()
    password = PasswordField("Password", description=f"At least {MIN_LENGTH} characters.",
                             validators=[DataRequired("Choose a password."), _strong_password()],
                             render_kw={"autocomplete": "new-password", "minlength": MIN_LENGTH,
                                        "maxlength": MAX_LENGTH})
    organisation = _text("Organisation", 200, autocomplete="organization")
    title = _text("Role or title", 120, autocomplete="organization-title")
    sector = _sector_field()
    jurisdiction = jurisdiction_field()
    jurisdiction_other = jurisdiction_other_field()
    wants_alerts = _alerts_field()
    consent = BooleanField("I accept the terms of use and the privacy notice",
                           validators=[DataRequired("You need to accept the terms to join.")])


class ProfileForm(_ProfileChecks, FlaskForm):
    name = _name_field()
    organisation = _text("Organisation", 200, autocomplete="organization")
    title = _text("Role or title", 120, autocomplete="organization-title")
    sector = _sector_field()
    jurisdiction = jurisdiction_field()
    jurisdiction_other = jurisdiction_other_field()
    # The service checks the zone against the same list (members.services._clean_timezone): one message for a
    # stale or forged value.
    timezone = SelectField("Time zone", choices=[], validate_choice=False, validators=[Optional()],
                           description="Event times are shown in your zone as well as in the event's own.")
    wants_alerts = _alerts_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice("", "Not set")] + [SelectChoice(zone, zone)
                                                                 for zone in known_timezones()]


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


class ResetRequestForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", description=f"At least {MIN_LENGTH} characters.",
                             validators=[DataRequired("Choose a password."), _strong_password(None)],
                             render_kw={"autocomplete": "new-password", "minlength": MIN_LENGTH,
                                        "maxlength": MAX_LENGTH})


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password."),
                                                                     Length(max=MAX_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password", description=f"At least {MIN_LENGTH} characters.",
                                 validators=[DataRequired("Choose a new password."), _strong_password(None)],
                                 render_kw={"autocomplete": "new-password", "minlength": MIN_LENGTH,
                                            "maxlength": MAX_LENGTH})


class _OwnPrefix:
    """Forms that share the account page get a prefix, so their field ids stay unique."""

    prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.prefix)
        super().__init__(*args, **kwargs)


class ChangeEmailForm(_OwnPrefix, FlaskForm):
    prefix = "email"
    new_email = _email_field("New email address")
    password = PasswordField("Current password", validators=[DataRequired("Enter your password."),
                                                             Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})


class DeleteAccountForm(_OwnPrefix, FlaskForm):
    prefix = "delete"
    password = PasswordField("Current password", validators=[DataRequired("Enter your password to confirm."),
                                                             Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
