"""Loads a content folder (content/ by default) through the services; idempotent by slug."""
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

import frontmatter
import yaml

from portal import uow
from portal.exceptions import ValidationFailed
from portal.jurisdictions.services import save_jurisdiction
from portal.library.attachments import attach_file, remove_attachment
from portal.library.models import STATUSES
from portal.library.services import change_status, create_resource, get_resource_by_slug, update_resource
from portal.pages.services import save_page


@dataclass
class LoadReport:
    created_or_updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _read(path: Path):
    try:
        return frontmatter.load(path)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed(None, f"{path}: cannot read front matter ({exc})") from exc


def load_pages(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "pages").glob("*.md")):
        try:
            post = _read(path)
            _, changed = save_page(slug=str(post.get("slug") or path.stem), title=str(post.get("title", "")),
                                   summary=str(post.get("summary", "")), body=post.content)
        except ValidationFailed as error:
            report.errors.append(f"{path.name}: {error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(f"pages/{path.name}")


def load_jurisdictions(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "jurisdictions").glob("*.md")):
        try:
            post = _read(path)
            _, changed = save_jurisdiction(slug=str(post.get("slug") or path.stem), name=str(post.get("name", "")),
                                           state=str(post.get("state", "")), summary=post.content.strip())
        except ValidationFailed as error:
            report.errors.append(f"{path.name}: {error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(f"jurisdictions/{path.name}")


def _as_date(value, field_name: str):
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed(field_name, f"{field_name} must be a date like 2024-01-31") from exc


def _as_list(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]


def _resource_fields(post, path: Path) -> dict:
    published = _as_date(post.get("published"), "published")
    return dict(
        title=str(post.get("title", "")), slug=str(post.get("slug") or path.stem), type=str(post.get("type", "")),
        summary=str(post.get("summary", "")).strip(), body=post.content, audiences=_as_list(post.get("audiences")),
        topics=_as_list(post.get("topics")), jurisdiction=post.get("jurisdiction") or None,
        external_url=str(post.get("external_url", "")), author=str(post.get("author", "")),
        access=str(post.get("access", "public")), members_until=_as_date(post.get("members_until"), "members_until"),
        is_featured=bool(post.get("featured", False)),
        published_at=datetime.combine(published, time(12, 0), timezone.utc) if published else None,
    )


def _sync_files(resource, post, path: Path) -> None:
    wanted = {}
    for name in _as_list(post.get("files")):
        file_path = (path.parent / name).resolve()
        if not file_path.is_file():
            raise ValidationFailed("files", f"file not found: {name}")
        wanted[file_path.name] = file_path.read_bytes()
    for attachment in list(resource.attachments):
        data = wanted.get(attachment.filename)
        # With `files:` in the front matter the folder is the truth: changed or dropped files go.
        dropped = data is None and "files" in post.metadata
        if dropped or (data is not None and hashlib.sha256(data).hexdigest() != attachment.sha256):
            remove_attachment(attachment, actor=None)
    for filename, data in wanted.items():
        # A command may wait: the text is extracted now (within the same limits), so the loaded content is
        # searchable without a worker, and a second load finds the same file and changes nothing.
        attach_file(resource, actor=None, filename=filename, data=data, extract_now=True)


def _sync_status(resource, status: str, published_at) -> None:
    if status not in STATUSES:
        raise ValidationFailed("status", f"status must be one of {', '.join(STATUSES)}")
    if resource.status == status:
        return
    action = {"draft": "unpublish", "review": "review", "published": "publish", "archived": "archive"}[status]
    change_status(resource, action=action, actor=None, publish_at=published_at)


def load_resources(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "resources").glob("*.md")):
        try:
            post = _read(path)
            fields = _resource_fields(post, path)
            resource = get_resource_by_slug(fields["slug"])
            before = (resource.updated_at, resource.status, len(resource.attachments)) if resource else None
            if resource is None:
                resource = create_resource(actor=None, **fields)
            else:
                update_resource(resource, actor=None, **fields)
            _sync_files(resource, post, path)
            _sync_status(resource, str(post.get("status", "published")), fields["published_at"])
            changed = before != (resource.updated_at, resource.status, len(resource.attachments))
        except ValidationFailed as error:
            report.errors.append(f"{path.name}: {error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(f"resources/{path.name}")


# Each loader takes the content folder, in dependency order (resources name jurisdictions), and stops at
# its first file with an error.
LOADERS = [load_pages, load_jurisdictions, load_resources]


def load_content(folder: Path) -> LoadReport:
    """Load every file in one unit of work: all of it is saved, or (at the first file with an error, which
    the report names) none of it, and nothing is indexed."""
    if not folder.is_dir():
        raise ValidationFailed(None, f"{folder} is not a folder")
    report = LoadReport()
    with uow.unit_of_work():
        for loader in LOADERS:
            loader(folder, report)
            if report.errors:
                uow.rollback()
                report.created_or_updated.clear()
                report.unchanged.clear()
                return report
    return report
