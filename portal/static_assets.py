"""Static files under content-hashed names, cached by browsers for a year.

`url_for('static', filename='css/site.css')` gives `/static/css/site.<hash>.css`, where the hash is the
first 12 hex digits of the file's SHA-256, read once per process. A hashed name never changes content,
so it is served `public, max-age=31536000, immutable`; a new deploy changes the name, so no browser
keeps an old stylesheet. The plain name still works (revalidated every time), and so does a hash from
an older deploy (served the current file with the plain name's caching, so a page from a process that
has not restarted yet still gets a stylesheet).
"""
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

YEAR = 31536000
IMMUTABLE = f"public, max-age={YEAR}, immutable"
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


@lru_cache(maxsize=512)
def _file_hash(folder: str, filename: str) -> str | None:
    path = safe_join(folder, filename)
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def hashed_name(filename: str) -> str:
    """css/site.css -> css/site.1a2b3c4d5e6f.css (unchanged when the file does not exist)."""
    digest = _file_hash(current_app.static_folder, filename)
    if digest is None:
        return filename
    stem, dot, suffix = filename.rpartition(".")
    if not dot or "/" in suffix:
        return f"{filename}.{digest}"
    return f"{stem}.{digest}.{suffix}"


def _split(filename: str) -> tuple[str, str] | None:
    match = _HASHED.match(filename)
    return (match["stem"] + match["suffix"], match["hash"]) if match else None


def register_static_assets(app: Flask) -> None:
    if app.static_folder is None or "static" not in app.view_functions:
        return

    @app.url_defaults
    def static_names(endpoint, values):
        if endpoint == "static" and "filename" in values:
            values["filename"] = hashed_name(values["filename"])

    def static(filename):
        folder = app.static_folder
        plain = _split(filename)
        if plain is not None and _file_hash(folder, filename) is None:
            name, digest = plain
            if _file_hash(folder, name) is None:
                raise NotFound()
            if _file_hash(folder, name) == digest:
                response = send_from_directory(folder, name, max_age=YEAR)
                response.headers["Cache-Control"] = IMMUTABLE
                return response
            filename = name
        response = send_from_directory(folder, filename, max_age=0)
        response.headers["Cache-Control"] = "public, no-cache"
        return response

    app.view_functions["static"] = static
