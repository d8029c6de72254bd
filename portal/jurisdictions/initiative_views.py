"""The initiative: national progress toward 12 million diverted calls a year, and how that figure is reached."""
from flask import Blueprint, flash, redirect, render_template, url_for

from portal.exceptions import ValidationFailed
from portal.extensions import limiter
from portal.forms import apply_error
from portal.jurisdictions import applications, figures
from portal.jurisdictions.forms import JoinForm
from portal.jurisdictions.services import list_jurisdictions
from portal.security import access

bp = Blueprint("initiative", __name__)


@bp.route("/initiative")
@access("public")
def index():
    return render_template("initiative/index.html", progress=figures.national_progress(list_jurisdictions()),
                           source=figures.INITIATIVE_SOURCE)


@bp.route("/initiative/join", methods=["GET", "POST"])
@access("public")
@limiter.limit("10 per hour", methods=["POST"])
def join():
    form = JoinForm()
    if form.validate_on_submit():
        try:
            applications.apply_to_join(**{name: getattr(form, name).data for name in (
                "name", "state", "kind", "contact_name", "contact_email", "contact_role", "population",
                "annual_calls", "programs", "interests")})
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Thank you: the application is with the initiative's staff, who will write to you at the address "
                  "you gave.", "success")
            return redirect(url_for("initiative.index"))
    return render_template("initiative/join.html", form=form), 400 if form.errors else 200
