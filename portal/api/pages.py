"""The API's page for people: what it offers, with examples to copy."""
from flask import Blueprint, render_template

from portal.security import access

bp = Blueprint("api", __name__)


@bp.route("/api")
@access("public")
def index():
    return render_template("api/index.html")
