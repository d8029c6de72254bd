"""Staff forms: shape only."""
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import InputRequired


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[("member", "Member"), ("staff", "Staff")],
                       validators=[InputRequired()])
