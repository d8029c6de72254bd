"""Forms of the webinar series: shape only."""
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length

from portal.forms import no_control_characters


class GuestRegistrationForm(FlaskForm):
    """A visitor without an account registers with a name and an address they confirm by mail (the service
    checks the address)."""

    name = StringField("Your name", validators=[DataRequired("Enter your name."),
                                                Length(max=120, message="Use at most 120 characters."),
                                                no_control_characters], render_kw={"autocomplete": "name"})
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."),
                                                    Length(max=254, message="Use at most 254 characters."),
                                                    no_control_characters], render_kw={"autocomplete": "email"})
