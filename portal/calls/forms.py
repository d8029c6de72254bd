"""Forms of the call-type analysis: shape only."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.calls.classify import MAX_NAME_LENGTH
from portal.calls.mapping import FIELD_LABELS, FIELDS, REQUIRED_FIELDS
from portal.forms import no_control_characters

FIELD_HINTS = {
    "call_type": "The type or nature of the call, as a description or a code.",
    "received_at": "When the call was received: ISO 8601, MM/DD/YYYY hh:mm:ss AM, or epoch seconds. Gives the "
                   "heat map and the file's period.",
    "priority": "The priority the call was given.",
    "disposition": "How the call was closed.",
    "unit_type": "The kind of unit that answered (patrol, crisis team, fire...): gives the share answered by "
                 "non-police units.",
}


class AnalysisUploadForm(FlaskForm):
    file = FileField("Dispatch extract", validators=[FileRequired("Choose a CSV file.")],
                     description="A CSV of calls for service, one call per line with a header line; it may be "
                                 "gzip-compressed (.csv.gz).")


class MappingForm(FlaskForm):
    """One select per field, its choices the file's columns (set by mapping_form)."""


def mapping_form(header: list[str], mapping: dict, formdata=None) -> MappingForm:
    class Form(MappingForm):
        pass

    for name in FIELDS:
        required = name in REQUIRED_FIELDS
        # A required select starts with an empty choice (HTML requires it): nothing is chosen until someone does.
        empty = SelectChoice("", "Choose a column") if required else SelectChoice("", "Not in the file")
        choices = [empty] + [SelectChoice(column, column) for column in header]
        validators = [DataRequired("Choose the column of the call type.")] if required else [Optional()]
        setattr(Form, name, SelectField(FIELD_LABELS[name], choices=choices, validators=validators,
                                        description=FIELD_HINTS[name], validate_choice=True,
                                        default=mapping.get(name, "")))
    return Form(formdata=formdata)


class RuleForm(FlaskForm):
    name = StringField("Call type name or pattern",
                       validators=[DataRequired("Enter a call type name or pattern."),
                                   Length(max=MAX_NAME_LENGTH, message=f"Use at most {MAX_NAME_LENGTH} characters."),
                                   no_control_characters],
                       description="As the file writes it (case, spacing and punctuation do not matter), a "
                                   "pattern with * and ?, or a regular expression written re:...")
    category = SelectField("Category", validators=[DataRequired("Choose a category.")], validate_choice=True)
    next = HiddenField()


def rule_form(categories, formdata=None, **data) -> RuleForm:
    form = RuleForm(formdata=formdata, **data)
    form.category.choices = [SelectChoice("", "Choose a category")] + [SelectChoice(c.slug, c.name)
                                                                        for c in categories]
    return form


class CodeTableForm(FlaskForm):
    file = FileField("Code table", validators=[FileRequired("Choose a CSV file.")],
                     description="A CSV of two columns, the code and its description (a header line is "
                                 "skipped), at most 2 MB.")


class SaveFigureForm(FlaskForm):
    include_co_response = BooleanField("Count co-response calls as eligible too")
    diverted = IntegerField("Calls alternative responders answered in this period",
                            validators=[Optional(), NumberRange(min=0, max=2_000_000_000,
                                                                message="Enter a whole number of calls.")])
