"""Forms of the webinar series: shape only."""
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateTimeLocalField, EmailField, IntegerField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, StopValidation, ValidationError
from wtforms.widgets import TextInput

from portal.events.models import REGISTRATION
from portal.forms import no_control_characters, plain_text
from portal.library.forms import MultiCheckboxField
from portal.library.models import AUDIENCES


class GuestRegistrationForm(FlaskForm):
    """A visitor without an account registers with a name and an address they confirm by mail (the service
    checks the address)."""

    name = StringField("Your name", validators=[DataRequired("Enter your name."),
                                                Length(max=120, message="Use at most 120 characters."),
                                                no_control_characters], render_kw={"autocomplete": "name"})
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."),
                                                    Length(max=254, message="Use at most 254 characters."),
                                                    no_control_characters], render_kw={"autocomplete": "email"})


# --- staff forms ---------------------------------------------------------------------------------------------
# Choices that come from the database or the time-zone list (series, time zones) are set by the view; the
# service checks every value again.

TIME_FORMAT = "%Y-%m-%dT%H:%M"
FIRST_YEAR, LAST_YEAR = 2000, 2100
CAPACITY_MESSAGE = "Give the capacity as a whole number from 1 to 100,000, or leave it empty."


class TimeRequired:
    """A required date and time with one message when it is empty (WTForms would also say "Not a valid
    datetime value" for the empty string)."""

    field_flags = {"required": True}

    def __init__(self, message: str):
        self.message = message

    def __call__(self, form, field):
        if not field.raw_data or not str(field.raw_data[0]).strip():
            field.errors[:] = []
            raise StopValidation(self.message)


def plausible_year(form, field):
    """Years far out are typing slips, and near 9999 a wall time cannot even be turned into UTC."""
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(f"Give a date between {FIRST_YEAR} and {LAST_YEAR}.")


def _time_field(label: str, *, required: str | None = None, description: str = "") -> DateTimeLocalField:
    first = TimeRequired(required) if required else Optional()
    return DateTimeLocalField(label, format=TIME_FORMAT, description=description, validators=[first, plausible_year])


class EventForm(FlaskForm):
    """Write or edit an event. Times are wall-clock times in the chosen time zone."""

    title = StringField("Title", validators=[DataRequired("Give the event a title."),
                                             Length(max=200, message="Use at most 200 characters."),
                                             no_control_characters])
    slug = StringField("Address (slug)", description="Lower-case words joined by hyphens. Left empty, it is made "
                       "from the title.", validators=[Optional(), Length(max=120), no_control_characters])
    series = SelectField("Series", choices={"": "None"}, validate_choice=False)
    description = TextAreaField("Description (Markdown)", validators=[Length(max=100_000), plain_text],
                                render_kw={"rows": 12})
    speakers = TextAreaField("Speakers", description="One per line: Name | Title | Organisation (title and "
                             "organisation may be left out).", validators=[Length(max=5000), plain_text],
                             render_kw={"rows": 4})
    audiences = MultiCheckboxField("Audiences", choices=dict(AUDIENCES))
    topics = StringField("Topics", description="Separated by commas, e.g. mental health, dispatch.",
                         validators=[Length(max=800), no_control_characters])
    timezone = SelectField("Time zone", description="The times below are read as local times in this zone.",
                           choices={}, validate_choice=False)
    starts_at = _time_field("Starts", required="Give the start time.")
    ends_at = _time_field("Ends", required="Give the end time.")
    registration_opens_at = _time_field("Registration opens", description="Empty: open as soon as it is saved.")
    registration_closes_at = _time_field("Registration closes", description="Empty: open until the start.")
    # A text input: a number input may only hold a number, and what was typed is shown back when it is wrong.
    capacity = IntegerField("Capacity", description="Seats. Empty: no limit.", widget=TextInput(),
                            render_kw={"inputmode": "numeric"},
                            validators=[Optional(), NumberRange(min=1, max=100_000, message=CAPACITY_MESSAGE)])
    has_waitlist = BooleanField("Keep a waiting list once it is full", default=True)
    registration = RadioField("Who may register", choices=REGISTRATION, default="members")
    join_url = StringField("Join link", description="Shown only to people holding a seat: on their page, in "
                           "their mail and their calendar file.", validators=[Length(max=500), no_control_characters])
    recording_url = StringField("Recording link", validators=[Length(max=500), no_control_characters])
    slides = StringField("Slides", description="The slug of a library resource.",
                         validators=[Length(max=120), no_control_characters])
    resources = StringField("Related resources", description="Slugs of library resources, separated by commas.",
                            validators=[Length(max=2000), no_control_characters])


class CancelEventForm(FlaskForm):
    note = TextAreaField("Note to the registrants", description="Included in the cancellation mail.",
                         validators=[Length(max=2000), plain_text], render_kw={"rows": 3})


class AttendanceForm(FlaskForm):
    """The registrations (by id) ticked as attended; rendered one checkbox per row by the template."""

    attended = SelectMultipleField("Attended", choices=[], coerce=int, validate_choice=False)


class MessageForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired("Give the message a subject."),
                                                 Length(max=200, message="Use at most 200 characters."),
                                                 no_control_characters])
    body = TextAreaField("Message (plain text)", validators=[DataRequired("Write the message."),
                                                              Length(max=20_000, message="Use at most 20,000 "
                                                                     "characters."), plain_text],
                         render_kw={"rows": 10})


class SeriesForm(FlaskForm):
    slug = StringField("Address (slug)", description="Left empty, it is made from the title. An existing slug "
                       "edits that series.", validators=[Optional(), Length(max=120), no_control_characters])
    title = StringField("Title", validators=[DataRequired("Give the series a title."),
                                             Length(max=200, message="Use at most 200 characters."),
                                             no_control_characters])
    summary = TextAreaField("Summary", validators=[Length(max=5000), plain_text], render_kw={"rows": 4})
