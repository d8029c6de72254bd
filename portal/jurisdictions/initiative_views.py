"""The initiative: national progress toward 12 million diverted calls a year, and how that figure is reached."""
from flask import Blueprint, render_template

from portal.jurisdictions import figures
from portal.jurisdictions.services import list_jurisdictions
from portal.security import access

bp = Blueprint("initiative", __name__)


@bp.route("/initiative")
@access("public")
def index():
    return render_template("initiative/index.html", progress=figures.national_progress(list_jurisdictions()),
                           source=figures.INITIATIVE_SOURCE)
