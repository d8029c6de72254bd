"""Uploads written straight to a file as they arrive, never held in memory whole, with a size limit of their own:
only a view marked with `@streams_upload` gets more than MAX_CONTENT_LENGTH, and only for someone its access
level lets in (the body is read before the view runs, by the CSRF and NUL checks, so the request decides from
the matched route). A file that does not arrive whole (too large, the connection cut) or that the view does not
claim is deleted at the end of the request.

    @bp.route(...)
    @streams_upload("CALLS_MAX_BYTES", directory=calls_dir)   # under @access(...)
    def upload(...):
        path = streamed_path()      # where the file part went, None without one
        claim_upload()              # keep it past the request
"""
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Request, current_app, g, has_request_context, request
from flask_login import current_user
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from portal.errors import render_error
from portal.security import allows
from portal.text import size_label

# Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD = 64 * 1024


def streams_upload(limit_setting: str, *, directory: Callable[[], Path]):
    """Mark a view (wrapped by @access) whose file part streams into `directory()`, up to that setting's bytes."""
    def mark(view):
        view.streamed_upload = (limit_setting, directory)
        return view
    return mark


def _spec():
    if not has_request_context() or request.url_rule is None:
        return None
    view = current_app.view_functions.get(request.url_rule.endpoint)
    spec = getattr(view, "streamed_upload", None)
    if spec is None or not allows(current_user, getattr(view, "access_level", "staff")):
        return None
    return spec


def upload_limit() -> int | None:
    spec = _spec()
    return current_app.config[spec[0]] if spec else None


class StreamingRequest(Request):
    @property
    def max_content_length(self) -> int | None:
        limit = upload_limit()
        if limit is not None:
            return limit + FORM_OVERHEAD
        return Request.max_content_length.fget(self)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        Request.max_content_length.fset(self, value)

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        spec = _spec()
        if spec is None or "streamed_upload" in g:  # one streamed file per request; any other part as usual
            return super()._get_file_stream(total_content_length, content_type, filename, content_length)
        path = Path(spec[1]()) / f"{secrets.token_hex(16)}.upload"
        g.streamed_upload = path
        g.streamed_handle = open(path, "wb+")
        return g.streamed_handle

    def _load_form_data(self) -> None:
        super()._load_form_data()
        # Werkzeug reads a multipart body that stops before its closing boundary as an empty form (it parses
        # silently); for an upload, that is a file cut off on the way.
        if ("streamed_upload" in g and self.mimetype == "multipart/form-data" and not self.form
                and not self.files and (self.content_length or 0) > 0):
            raise ClientDisconnected()


def streamed_path() -> Path | None:
    return g.get("streamed_upload")


def claim_upload() -> None:
    """The view keeps the file (an analysis owns it now): it is not deleted at the end of the request."""
    g.pop("streamed_upload", None)


def discard_upload() -> None:
    path = g.pop("streamed_upload", None)
    if path is not None:
        Path(path).unlink(missing_ok=True)


def register_streamed_uploads(app: Flask) -> None:
    app.request_class = StreamingRequest

    @app.teardown_request
    def delete_unclaimed_upload(error=None):
        handle = g.pop("streamed_handle", None)
        if handle is not None:
            handle.close()
        discard_upload()

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        limit = upload_limit()
        if limit is None:
            return render_error(413)
        return render_error(413, f"The file is over the limit of {size_label(limit)} for this page; split it into "
                                 "smaller files and send them one by one.")

    @app.errorhandler(ClientDisconnected)
    def cut_off(error):
        return render_error(400, "The upload was cut off before the whole file arrived; nothing was kept. "
                                 "Send it again.")
