"""Webinars for readers: the list, one event, series, registration, calendars."""
from flask import Blueprint

bp = Blueprint("events", __name__)
