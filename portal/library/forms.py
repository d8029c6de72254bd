"""Library forms: shape only. Choices that come from the database are set by the view."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateField, DateTimeLocalField, RadioField, SelectField, SelectMultipleField,
                     StringField, TextAreaField)
from wtforms.validators import URL, DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import no_control_characters, plain_text
from portal.library.models import AUDIENCES, TYPES
from portal.members.forms import JurisdictionChoices, jurisdiction_field, jurisdiction_other_field

TYPE_CHOICES = dict(TYPES)  # WTForms 3.3 wants {value: label} rather than tuples


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ResourceForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the resource a title."), Length(max=200),
                                                no_control_characters])
    slug = StringField("Address (slug)", description="Lower-case words joined by hyphens. Left empty, it is made "
                       "from the title.", validators=[Optional(), Length(max=120), no_control_characters])
    summary = TextAreaField("Summary", description="One or two sentences; everyone sees it, even for "
                            "members-only resources.", validators=[Length(max=2000), plain_text])
    body = TextAreaField("Body (Markdown)", validators=[Length(max=500_000), plain_text], render_kw={"rows": 18})
    type = SelectField("Type", choices=TYPE_CHOICES)
    audiences = MultiCheckboxField("Audiences", choices=dict(AUDIENCES))
    topics = StringField("Topics", description="Separated by commas, e.g. mental health, dispatch.",
                         validators=[Length(max=800), no_control_characters])
    jurisdiction = SelectField("Jurisdiction", choices={"": "None"}, validate_choice=False)
    external_url = StringField("External link", validators=[Optional(), URL(message="Give a full web address."),
                                                            Length(max=500)])
    author = StringField("Author", validators=[Length(max=200), no_control_characters])
    access = RadioField("Who can read it", choices={"public": "Everyone", "members": "Members only"},
                        default="public")
    members_until = DateField("Members-only until", description="Optional early access: on this date the "
                              "resource becomes public by itself.", validators=[Optional()])
    is_featured = BooleanField("Feature on the home page")
    # The one publish date of the editor: the workflow's Publish uses the saved value.
    published_at = DateTimeLocalField("Publish date and time (UTC)", format="%Y-%m-%dT%H:%M",
                                      description="Empty: Publish makes it public at once. A future date: "
                                      "Publish schedules it for then. Save before you publish.",
                                      validators=[Optional()])


WORKFLOW_ACTIONS = {"review": "Send to review", "publish": "Publish", "unpublish": "Back to draft",
                    "archive": "Archive"}


class StatusForm(FlaskForm):
    """The workflow step; publishing takes its date from the resource (ResourceForm.published_at)."""

    action = SelectField("Action", choices=WORKFLOW_ACTIONS)


class UploadForm(FlaskForm):
    file = FileField("File (PDF, DOCX, XLSX, PPTX or CSV)", validators=[FileRequired("Choose a file to upload.")])


class SuggestionForm(JurisdictionChoices, FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the resource a title."), Length(max=200),
                                                no_control_characters])
    type = SelectField("Type", choices=TYPE_CHOICES)
    summary = TextAreaField("What is it, and who is it for?", validators=[Length(max=2000), plain_text])
    external_url = StringField("Link", validators=[Optional(), URL(message="Give a full web address."),
                                                   Length(max=500)])
    jurisdiction = jurisdiction_field("City or county")
    jurisdiction_other = jurisdiction_other_field("Other city or county")
    note = TextAreaField("Anything else staff should know", validators=[Length(max=5000), plain_text])


class DecisionForm(FlaskForm):
    decision = SelectField("Decision", choices={"accept": "Accept as a draft", "decline": "Decline"})
    note = TextAreaField("Note to the member", description="Required when declining; it is mailed to them.",
                         validators=[Length(max=2000), plain_text])


class AlertPicksForm(FlaskForm):
    wants_alerts = BooleanField("Email me a digest when new resources are published")
    types = MultiCheckboxField("Types", choices=TYPE_CHOICES)
    topics = MultiCheckboxField("Topics", choices={}, validate_choice=False)
