"""Error pages, and JSON errors under /api. Never a stack trace."""
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES = {
    400: ("Something in the request was not right", "Please go back, check what you entered and try again."),
    401: ("Not signed in", "This needs a valid token."),
    403: ("You do not have access to this page", "Your account does not have the role this page needs."),
    404: ("Page not found", "The page may have moved, or the address may be mistyped."),
    405: ("That action is not allowed here", "This address does not accept that kind of request."),
    409: ("That conflicts with what is stored", "Correct the stored record instead."),
    412: ("That was changed in the meantime", "Read it again and retry."),
    413: ("That upload is too large", "Please choose a smaller file."),
    422: ("Some values were not right", "Check the values and try again."),
    429: ("Too many attempts", "Please wait a few minutes before trying again."),
    500: ("Something went wrong on our side", "The team has been told. Please try again in a moment."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(code: int, detail: str | None = None, errors: dict | None = None):
    title, message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    if _wants_json():
        body = {"status": code, "title": title, "detail": detail or message}
        if errors:
            body["errors"] = errors
        response = jsonify(error=body)
        if code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response, code
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
        # flask-smorest's abort(message=..., errors=...) and webargs' validation errors carry their words in data.
        data = getattr(error, "data", None) or {}
        custom = data.get("message") or custom
        errors = data.get("errors") or data.get("messages")
        return render_error(error.code, custom, errors if isinstance(errors, dict) else None)

    @app.errorhandler(InternalServerError)
    def server_error(error):
        return render_error(500)
