"""Membership forms: shape only (lengths, formats, required)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from portal.forms import no_control_characters
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


def _text(label, max_length, required=False, autocomplete=None):
    validators = [Length(max=max_length, message=f"Use at most {max_length} characters."), no_control_characters]
    if required:
        validators.insert(0, DataRequired(f"Enter your {label.lower()}."))
    return StringField(label, validators=validators,
                       render_kw={"autocomplete": autocomplete} if autocomplete else None)


class ProfileFields:
    name = _text("Name", 120, required=True, autocomplete="name")
    organisation = _text("Organisation", 200, autocomplete="organization")
    title = _text("Role or title", 120, autocomplete="organization-title")
    sector = SelectField("Sector", choices=SECTOR_CHOICES, validate_choice=False,  # one message, below
                         validators=[InputRequired("Choose a sector.")])
    jurisdiction = _text("City, county or jurisdiction", 120)
    wants_alerts = BooleanField("Email me when new resources are published")

    def validate_sector(self, field):
        if field.data not in SECTORS:
            raise ValidationError("Choose a sector from the list.")


class SignupForm(ProfileFields, FlaskForm):
    email = _email_field()
    password = PasswordField("Password", description=f"At least {MIN_LENGTH} characters.",
                             validators=[DataRequired("Choose a password."), _strong_password()],
                             render_kw={"autocomplete": "new-password", "minlength": MIN_LENGTH,
                                        "maxlength": MAX_LENGTH})
    consent = BooleanField("I accept the terms of use and the privacy notice",
                           validators=[DataRequired("You need to accept the terms to join.")])


class ProfileForm(ProfileFields, FlaskForm):
    pass


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
