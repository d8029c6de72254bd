"""The directory's forms: the profile, a message to a member, a report to staff, staff moderation. Shape only
(the services check the choices and the limits)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.forms import no_control_characters, plain_text
from portal.library.forms import MultiCheckboxField
from portal.library.services import visible_topics
from portal.members.forms import SECTOR_CHOICES, JurisdictionChoices, jurisdiction_field
from portal.network.contact import MAX_BODY, MAX_REASON, MAX_SUBJECT
from portal.network.moderation import ACTIONS
from portal.network.services import MAX_BIO, program_choices


def _text(field_class, label, max_length, *, required="", description="", **kwargs):
    """A text field of at most `max_length` characters that a browser can send (a line or plain text);
    `required` is the message when it is left empty."""
    check = no_control_characters if field_class is StringField else plain_text
    validators = [Length(max=max_length, message=f"Use at most {max_length:,} characters."), check]
    if required:
        validators.insert(0, DataRequired(required))
    return field_class(label, validators=validators, description=description, **kwargs)


def _line(label, max_length, **kwargs):
    return _text(StringField, label, max_length, **kwargs)


class DirectoryProfileForm(JurisdictionChoices, FlaskForm):
    is_listed = BooleanField("List me in the member directory",
                             description="Verified members can then find you and read this profile. Untick it to "
                                         "leave the directory at once.")
    # Labels of their own: the account page's profile form above has "Organisation", "Role or title" and
    # "Sector", and two fields of one name on a page leave a screen reader (and a test) guessing which is which.
    display_name = _line("Name to show", 120, required="Enter name to show.")
    title = _line("Role to show", 120, description="Your role or title.")
    organisation = _line("Workplace to show", 200, description="Your organisation or agency.")
    sector = SelectField("Sector to show", choices=SECTOR_CHOICES, validate_choice=False)
    jurisdiction = jurisdiction_field("Jurisdiction you work in")
    programs = MultiCheckboxField("Programs you work on", choices=[], validate_choice=False)
    topics = MultiCheckboxField("Topics you know about", choices=[], validate_choice=False)
    bio = TextAreaField("Short bio", description=f"Markdown, at most {MAX_BIO} characters.",
                        validators=[Length(max=MAX_BIO, message=f"Use at most {MAX_BIO} characters."), plain_text])
    is_open_to_contact = BooleanField("Other members may write to me",
                                      description="Their messages reach you by mail from the site; your address "
                                                  "is not shown to them.")


def directory_form(data: dict | None = None, **kwargs) -> DirectoryProfileForm:
    """The form with the directory's programs and the library's topics (and any the member chose before that
    no visible resource uses any more) as its choices."""
    # Prefixed: the account page holds other forms with fields of the same names.
    form = DirectoryProfileForm(data=data, prefix="directory", **kwargs)
    form.programs.choices = [SelectChoice(str(p.id), f"{p.name} ({p.jurisdiction.label})") for p in program_choices()]
    chosen = list((data or {}).get("topics") or [])
    form.topics.choices = [SelectChoice(t, t) for t in sorted(set(visible_topics()) | set(chosen))]
    return form


class ContactForm(FlaskForm):
    subject = _line("Subject", MAX_SUBJECT, required="Give your message a subject.")
    body = _text(TextAreaField, "Message (plain text)", MAX_BODY, required="Write your message.",
                 render_kw={"rows": 8})
    share_address = BooleanField("Let them reply to my email address",
                                 description="Your address goes in the mail's Reply-To, for this message only. "
                                             "Unticked, they can write back through the directory.")


class ReportForm(FlaskForm):
    reason = _text(TextAreaField, "What is wrong with this message? (optional)", MAX_REASON, render_kw={"rows": 4})


class ModerationForm(FlaskForm):
    action = SelectField("Action", choices=list(ACTIONS), validate_choice=True)
