"""Staff work on the webinar series: events, their registrants, attendance and messages."""
from flask import Blueprint

bp = Blueprint("events_staff", __name__, url_prefix="/staff/events")
