"""Loads a content folder (content/ by default) through the services; idempotent by slug."""
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from portal.exceptions import ValidationFailed
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
            continue
        (report.created_or_updated if changed else report.unchanged).append(f"pages/{path.name}")


# Each loader takes the content folder; later features append theirs in dependency order.
LOADERS = [load_pages]


def load_content(folder: Path) -> LoadReport:
    if not folder.is_dir():
        raise ValidationFailed(None, f"{folder} is not a folder")
    report = LoadReport()
    for loader in LOADERS:
        loader(folder, report)
    return report
