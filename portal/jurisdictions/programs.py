"""A jurisdiction's programs: what they are, who runs them, which calls they take, with their sources and the
library resources about them."""
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.audit.services import record_event
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions.access import require_editor
from portal.jurisdictions.models import PROGRAM_MODELS, Jurisdiction, Program
from portal.library.models import Resource
from portal.text import clean_slug, clean_title, clean_web_address

MAX_SOURCES = 10
MAX_CALL_TYPES = 30


def _lines(value) -> list[str]:
    if isinstance(value, str):
        value = value.replace(",", "\n").splitlines() if "\n" in value or "," in value else [value]
    return [" ".join(str(item).split()) for item in (value or []) if str(item).strip()]


def clean_program(values: dict) -> dict:
    name = clean_title(values.get("name"), what="program", field="name")
    model = values.get("model") or "other"
    if model not in PROGRAM_MODELS:
        raise ValidationFailed("model", "Choose the program's model from the list.")
    launched = values.get("launched_on")
    if launched not in (None, "") and not isinstance(launched, date):
        try:
            launched = date.fromisoformat(str(launched).strip())
        except ValueError:
            raise ValidationFailed("launched_on", "Give the launch date as YYYY-MM-DD.") from None
    call_types = _lines(values.get("call_types"))
    if len(call_types) > MAX_CALL_TYPES or any(len(item) > 120 for item in call_types):
        raise ValidationFailed("call_types", f"List at most {MAX_CALL_TYPES} call types of at most 120 characters.")
    sources = [clean_web_address(item, field="sources") for item in _lines(values.get("sources"))]
    if len(sources) > MAX_SOURCES:
        raise ValidationFailed("sources", f"Give at most {MAX_SOURCES} sources.")
    texts = {}
    for field, limit in (("agency", 200), ("hours", 200)):
        texts[field] = " ".join(str(values.get(field) or "").split())
        if len(texts[field]) > limit:
            raise ValidationFailed(field, f"Use at most {limit} characters.")
    description = (values.get("description") or "").strip()
    if len(description) > 20000:
        raise ValidationFailed("description", "Use at most 20,000 characters for the description.")
    return {"name": name, "model": model, "launched_on": launched or None, "call_types": call_types,
            "sources": sources, "url": clean_web_address(values.get("url"), field="url"),
            "description": description, **texts}


def _resources(slugs) -> list[Resource]:
    slugs = [slug for slug in (slugs or []) if slug]
    if not slugs:
        return []
    found = {resource.slug: resource for resource in db.session.scalars(select(Resource).where(Resource.slug.in_(slugs)))}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise ValidationFailed("resources", "No resource in the library has the address " + ", ".join(missing) + ".")
    return [found[slug] for slug in slugs]


def save_program(jurisdiction: Jurisdiction, *, actor, slug: str = "", resources=None, **values) -> tuple[Program, bool]:
    """Create or update the jurisdiction's program with this slug (made from the name when blank). `actor` None
    is the content loader. `resources` (library slugs) replaces the linked resources when given."""
    if actor is not None:
        require_editor(actor, jurisdiction)
    cleaned = clean_program(values)
    slug = clean_slug(slug, cleaned["name"])
    program = db.session.scalar(select(Program).where(Program.jurisdiction_id == jurisdiction.id,
                                                      Program.slug == slug))
    created = program is None
    if created:
        position = db.session.scalar(select(db.func.count(Program.id)).where(Program.jurisdiction_id == jurisdiction.id))
        program = Program(jurisdiction_id=jurisdiction.id, slug=slug, position=position)
        db.session.add(program)
    changed = created or any(getattr(program, key) != value for key, value in cleaned.items())
    for key, value in cleaned.items():
        setattr(program, key, value)
    if resources is not None:
        linked = _resources(resources)
        if [r.id for r in program.resources] != [r.id for r in linked]:
            program.resources = linked
            changed = True
    db.session.flush()
    if changed and actor is not None:
        record_event(actor=actor, action="program.saved", subject=f"jurisdiction {jurisdiction.slug}",
                     program=program.name)
    return program, changed


def delete_program(program: Program, *, actor) -> None:
    require_editor(actor, program.jurisdiction)
    record_event(actor=actor, action="program.deleted", subject=f"jurisdiction {program.jurisdiction.slug}",
                 program=program.name)
    db.session.delete(program)
    db.session.flush()


def programs_of(jurisdiction: Jurisdiction) -> list[Program]:
    return list(db.session.scalars(select(Program).where(Program.jurisdiction_id == jurisdiction.id)
                                   .options(selectinload(Program.resources))
                                   .order_by(Program.position, Program.name)))


def get_program(jurisdiction: Jurisdiction, program_id: int) -> Program | None:
    program = db.session.get(Program, program_id)
    return program if program is not None and program.jurisdiction_id == jurisdiction.id else None
