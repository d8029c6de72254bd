"""Error pages, and JSON errors under /api. Never a stack trace."""
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES = {
    400: ("Something in the request was not right", "Please go back, check what you entered and try again."),
    403: ("You do not have access to this page", "Your account does not have the role this page needs."),
    404: ("Page not found", "The page may have moved, or the address may be mistyped."),
    405: ("That action is not allowed here", "This address does not accept that kind of request."),
    413: ("That upload is too large", "Please choose a smaller file."),
    429: ("Too many attempts", "Please wait a few minutes before trying again."),
    500: ("Something went wrong on our side", "The team has been told. Please try again in a moment."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    if _wants_json():
        return jsonify(error={"status": code, "title": title, "detail": detail or message}), code
    return render_template("errors/error.html", code=code, title=title, message=detail or message), code


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "The form had expired or was sent from elsewhere. Please reload the page and "
                                 "try again.")

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code is None or error.code < 400:
            return error
        # A description given to abort() is ours to show; Werkzeug's defaults are not written for readers.
        custom = error.description if error.description != type(error).description else None
        return render_error(error.code, custom)

    @app.errorhandler(InternalServerError)
    def server_error(error):
        return render_error(500)
