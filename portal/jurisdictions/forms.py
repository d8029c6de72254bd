"""Forms of the jurisdictions: shape only. Numbers and dates are read by the services, which say what is
wrong in words (a form's "Not a valid integer value" would not)."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, Form, SelectChoice, FieldList, FormField, HiddenField, RadioField, SelectField, StringField, \
    TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import no_control_characters, plain_text
from portal.jurisdictions.models import KINDS, PROGRAM_MODELS
from portal.library.forms import MultiCheckboxField

LINK_ROWS = 5


def choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def line(label, max_length, *, required=None, **kwargs):
    validators = [DataRequired(required)] if required else [Optional()]
    return StringField(label, validators=[*validators, Length(max=max_length, message=f"Use at most {max_length} "
                                                                                    "characters."),
                                          no_control_characters], **kwargs)


def text(label, max_length, **kwargs):
    return TextAreaField(label, validators=[Optional(), Length(max=max_length, message=f"Use at most "
                                                                                   f"{max_length:,} characters."),
                                            plain_text], **kwargs)


def number(label, **kwargs):
    return line(label, 20, **kwargs)


class RepresentationRequestForm(FlaskForm):
    # Not "jurisdiction": the profile form on the same page has a field of that name.
    represented = SelectField("The jurisdiction you work for", validators=[DataRequired("Choose the jurisdiction.")],
                              validate_choice=False)
    role_title = line("Your role there", 120, required="Say what your role is there.",
                      description="For example: program manager, 911 centre director, analyst.")
    note = text("A note for staff", 2000, description="How staff can confirm you work there (optional).")


def representation_form(formdata=None) -> RepresentationRequestForm:
    """The request form with the directory's jurisdictions to choose from (as the members' forms do)."""
    from portal.jurisdictions.services import list_jurisdictions
    form = RepresentationRequestForm(formdata=formdata)
    form.represented.choices = [SelectChoice("", "Choose a jurisdiction")] + [
        SelectChoice(j.slug, j.label) for j in list_jurisdictions()]
    return form


class LinkForm(Form):
    label = line("Label", 120)
    url = line("Address", 500, description="https://…")


class JurisdictionForm(FlaskForm):
    # Staff only (the view removes them for a representative): the name and the partnership.
    name = line("Name", 120)
    is_partner = BooleanField("A partner of the initiative")
    joined_on = line("Joined on", 10, description="YYYY-MM-DD.")
    state = line("State", 60)
    kind = SelectField("Kind", choices=choices(KINDS), validate_choice=False)
    population = number("Population", description="A whole number.")
    summary = text("Summary", 20000, description="Markdown: what the jurisdiction does, with links to sources.")
    goal_rate = number("Target diversion rate", description="A percentage (20%) or a fraction (0.2).")
    goal_year = number("Target year")
    goal_baseline_year = number("Baseline year")
    goal_baseline_rate = number("Baseline diversion rate", description="A percentage or a fraction.")
    goal_source = line("Source of the goal", 500, description="The page where the goal is stated (https://…).")
    annual_calls = number("Annual 911 calls for service")
    annual_calls_source = line("Source of the annual calls", 500, description="https://…")
    links = FieldList(FormField(LinkForm), min_entries=LINK_ROWS, max_entries=LINK_ROWS + 5,
                      label="Dashboards and open data")

    STAFF_FIELDS = ("name", "is_partner", "joined_on")


class NewJurisdictionForm(FlaskForm):
    name = line("Name", 120, required="Give the jurisdiction's name.")
    state = line("State", 60, required="Give the state.")
    kind = SelectField("Kind", choices=choices(KINDS), validate_choice=False)
    slug = line("Address (slug)", 80, description="Lower-case words joined by hyphens; made from the name when "
                                                  "left empty.")


class ProgramForm(FlaskForm):
    name = line("Name", 200, required="Give the program's name.")
    model = SelectField("Model", choices=choices(PROGRAM_MODELS), validate_choice=False)
    agency = line("Operating agency", 200)
    launched_on = line("Launch date", 10, description="YYYY-MM-DD.")
    hours = line("Hours", 200, description="For example: every day, all day.")
    call_types = text("Call types it takes", 4000, description="One per line.")
    url = line("Program page", 500, description="https://…")
    description = text("Description", 20000, description="Markdown.")
    sources = text("Sources", 5000, description="The pages that state these facts, one address per line.")
    resources = MultiCheckboxField("In the library", choices=[], validate_choice=False)


class MetricForm(FlaskForm):
    period_start = line("First day of the period", 10, required="Give the first day of the period.",
                        description="YYYY-MM-DD, the first of a month.")
    period_end = line("Last day of the period", 10, required="Give the last day of the period.",
                      description="YYYY-MM-DD: a month, a quarter or a year later.")
    total = number("Total 911 calls for service", required="Give the total calls for service.")
    diverted = number("Calls answered by alternative responders", required="Give the diverted calls.")
    eligible = number("Calls eligible for alternative response", description="If you know it.")
    source_url = line("Source", 500, description="The page where these figures are published (https://…).")
    is_sample = BooleanField("These are sample figures, not real ones")


class CorrectMetricForm(FlaskForm):
    version = HiddenField()
    total = number("Total 911 calls for service", required="Give the total calls for service.")
    diverted = number("Calls answered by alternative responders", required="Give the diverted calls.")
    eligible = number("Calls eligible for alternative response")
    source_url = line("Source", 500, description="https://…")
    is_sample = BooleanField("These are sample figures, not real ones")


class MetricsUploadForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")],
                     description="Columns period_start, period_end, total, diverted, and optionally eligible, "
                                 "source, sample. UTF-8, at most 1 MB.")


class TokenForm(FlaskForm):
    name = line("Name of the token", 120, required="Name the token.",
                description="Where it is used, e.g. “nightly upload from the 911 centre”.")


class SuggestForm(FlaskForm):
    title = line("Title", 200, required="Give a title.")
    type = RadioField("Type", choices=[SelectChoice("program_model", "Program model"), SelectChoice("policy", "Policy")],
                      default="program_model", validators=[DataRequired("Choose program model or policy.")])
    summary = text("Summary", 2000)
    external_url = line("Where it is published", 500, description="https://… (optional)")
    note = text("A note for staff", 4000)


class DecisionForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice("approve", "Approve"), SelectChoice("decline", "Decline")],
                          validators=[DataRequired("Choose approve or decline.")])
    note = text("Note to the member", 2000, description="Required when declining; mailed with the decision.")


class JoinForm(FlaskForm):
    name = line("City or county", 120, required="Give the name of the city or county.")
    state = line("State", 60, required="Give the state.")
    kind = SelectField("Kind", choices=choices(KINDS), validate_choice=False)
    contact_name = line("Your name", 120, required="Give your name.", render_kw={"autocomplete": "name"})
    contact_email = EmailField("Your work email address", validators=[
        DataRequired("Give your email address."), Length(max=254, message="Use at most 254 characters."),
        no_control_characters], render_kw={"autocomplete": "email"})
    contact_role = line("Your role", 120, description="For example: deputy mayor, 911 director.")
    population = number("Population", description="A whole number, if you know it.")
    annual_calls = number("911 calls for service a year", description="A whole number, if you know it.")
    programs = text("Programs you run or plan", 4000, description="Alternative response programs, pilots, plans.")
    interests = text("What you would like from the initiative", 4000,
                     description="Research support, peers to learn from, policies and program models…")
