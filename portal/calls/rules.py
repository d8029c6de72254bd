"""A jurisdiction's own part of the classification: its lines (names or patterns and their categories), which win
over the default table, and its code table (code -> description) for CAD systems that export codes."""
import csv
import io

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.audit.services import record_event
from portal.calls import files
from portal.calls.classify import Table, is_pattern, load_table, normalize, rule_error, with_overrides
from portal.calls.models import CallSettings, CallTypeRule
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions.models import Jurisdiction

MAX_CODE_TABLE_BYTES = 2 * 1024 * 1024
MAX_CODES = 20_000
MAX_RULES = 2_000


def settings_of(jurisdiction: Jurisdiction) -> CallSettings:
    settings = db.session.get(CallSettings, jurisdiction.id)
    if settings is None:
        settings = CallSettings(jurisdiction_id=jurisdiction.id, mapping={}, code_table={})
        db.session.add(settings)
    return settings


def code_table_of(jurisdiction: Jurisdiction) -> dict[str, str]:
    settings = db.session.get(CallSettings, jurisdiction.id)
    return dict(settings.code_table or {}) if settings else {}


def rules_of(jurisdiction: Jurisdiction) -> list[CallTypeRule]:
    return list(db.session.scalars(select(CallTypeRule).where(CallTypeRule.jurisdiction_id == jurisdiction.id)
                                   .order_by(CallTypeRule.created_at, CallTypeRule.id)))


def table_for(jurisdiction: Jurisdiction, rules: list[CallTypeRule] | None = None) -> Table:
    """The default table with the jurisdiction's own lines, which win."""
    rules = rules_of(jurisdiction) if rules is None else rules
    return with_overrides(load_table(), {rule.name: rule.category for rule in rules})


def save_rule(jurisdiction: Jurisdiction, *, actor, name: str, category: str) -> CallTypeRule:
    """Map a call type name (or pattern) to a category for this jurisdiction; an existing line for the same
    name is changed."""
    name = " ".join(str(name or "").split())
    problem = rule_error(name, category, load_table())
    if problem:
        raise ValidationFailed("category" if "categor" in problem else "name", problem)
    rules = rules_of(jurisdiction)
    same = next((rule for rule in rules if _rule_key(rule.name) == _rule_key(name)), None)
    if same is None and len(rules) >= MAX_RULES:
        raise ValidationFailed("name", f"A jurisdiction has at most {MAX_RULES} lines of its own.")
    if same is None:
        same = CallTypeRule(jurisdiction_id=jurisdiction.id, name=name, category=category)
        db.session.add(same)
    else:
        same.name, same.category = name, category
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ValidationFailed("name", "That call type was mapped at the same moment; reload and try again.") \
            from None
    record_event(actor=actor, action="analysis.rule_saved", subject=f"jurisdiction {jurisdiction.slug}",
                 name=name, category=category)
    return same


def _rule_key(name: str) -> str:
    """Two lines are the same line when their names normalize alike (a pattern is compared as written)."""
    name = name.strip()
    return name if is_pattern(name) else normalize(name)


def delete_rule(rule: CallTypeRule, *, actor) -> None:
    jurisdiction = db.session.get(Jurisdiction, rule.jurisdiction_id)
    db.session.delete(rule)
    record_event(actor=actor, action="analysis.rule_deleted", subject=f"jurisdiction {jurisdiction.slug}",
                 name=rule.name)


def parse_code_table(text: str) -> dict[str, str]:
    """code -> description from a CSV of two columns (a header row naming them is skipped). Raises
    ValidationFailed naming the line."""
    rows = csv.reader(io.StringIO(text, newline=""))
    codes: dict[str, str] = {}
    try:
        for number, row in enumerate(rows, start=1):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 2:
                raise ValidationFailed("file", f"Line {number}: expected two columns, a code and its description.")
            code, description = row[0].strip(), " ".join(row[1].split())
            if number == 1 and code.casefold() in ("code", "call code", "type code", "nature code"):
                continue
            if not code or not description:
                raise ValidationFailed("file", f"Line {number}: both the code and its description are needed.")
            if len(code) > 100 or len(description) > 200:
                raise ValidationFailed("file", f"Line {number}: a code has at most 100 characters and a "
                                               "description at most 200.")
            if code.casefold() in {key.casefold() for key in codes} and codes.get(code) != description:
                raise ValidationFailed("file", f"Line {number}: the code {code!r} is listed twice.")
            codes[code] = description
            if len(codes) > MAX_CODES:
                raise ValidationFailed("file", f"A code table has at most {MAX_CODES} codes.")
    except csv.Error as error:
        raise ValidationFailed("file", f"The file is not a readable CSV: {error}.") from None
    if not codes:
        raise ValidationFailed("file", "The file holds no codes.")
    return codes


def decode_text(data: bytes) -> str:
    """A small uploaded text file (a code table) decoded as the big ones are: UTF-8, else cp1252 or Latin-1."""
    if b"\x00" in data[:8192]:
        raise ValidationFailed("file", "This is a binary file, not a CSV file.")
    encoding = files.detect_encoding(data, complete=True)
    return data.decode(encoding, errors="replace")


def save_code_table(jurisdiction: Jurisdiction, *, actor, data: bytes) -> dict[str, str]:
    if len(data) > MAX_CODE_TABLE_BYTES:
        raise ValidationFailed("file", "A code table is at most 2 MB.")
    codes = parse_code_table(decode_text(data))
    settings_of(jurisdiction).code_table = codes
    record_event(actor=actor, action="analysis.code_table", subject=f"jurisdiction {jurisdiction.slug}",
                 codes=len(codes))
    return codes


def clear_code_table(jurisdiction: Jurisdiction, *, actor) -> None:
    settings_of(jurisdiction).code_table = {}
    record_event(actor=actor, action="analysis.code_table", subject=f"jurisdiction {jurisdiction.slug}", codes=0)
