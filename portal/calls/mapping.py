"""Which column of an extract holds which field: proposed from the header names cities use (and the columns
chosen for the jurisdiction's last file), and checked before a job runs."""
import re

from portal.calls.files import FileProblem

FIELDS = ("call_type", "received_at", "priority", "disposition", "unit_type")
FIELD_LABELS = {
    "call_type": "Call type",
    "received_at": "Received time",
    "priority": "Priority",
    "disposition": "Disposition",
    "unit_type": "Responding unit type",
}
REQUIRED_FIELDS = ("call_type",)
# Header names cities use, compared normalized (lower case, letters and digits only): exact names first, then
# names that contain one of the words in FIELD_WORDS.
FIELD_NAMES = {
    "call_type": ("calltype", "typetext", "initialcalltype", "finalcalltype", "eventclearancegroup", "naturecode",
                  "nature", "calltypeoriginaldesc", "calltypefinaldesc", "calltypedesc", "calltypedescription",
                  "incidenttype", "eventtype", "problem", "problemtype", "initialtypetext", "type",
                  "callnature", "callcategory", "description", "calldescription", "incidentdescription"),
    "received_at": ("receivedat", "received", "receivedtime", "timereceived", "callreceived", "datetime",
                    "callreceivedtime", "receivedatetime", "calldatetime", "calltime", "incidentdatetime",
                    "originaltimequeued", "timecreate", "createdat", "created", "createtime", "timestamp",
                    "eventdatetime", "receivedate", "date", "time"),
    "priority": ("priority", "callpriority", "prio", "priorityfinal", "initialpriority", "prioritycode"),
    "disposition": ("disposition", "dispo", "finaldisposition", "dispositiondesc", "dispositioncode",
                    "closecode", "clearance", "clearancecode", "eventclearancedescription", "outcome"),
    "unit_type": ("unittype", "respondingunittype", "unit", "respondingunit", "agency", "respondingagency",
                  "respondertype", "primaryunittype", "discipline", "service"),
}
FIELD_WORDS = {
    "call_type": ("calltype", "typetext", "nature", "problem"),
    "received_at": ("received", "datetime", "timequeued"),
    "priority": ("priority",),
    "disposition": ("disposition", "clearancedesc"),
    "unit_type": ("unittype", "respondingunit", "responder"),
}

def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def propose_mapping(header: list[str], remembered: dict | None = None) -> dict[str, str]:
    """field -> column: the jurisdiction's remembered mapping where its columns are in this header, then the
    names cities use (an exact name, then a name holding a telling word), each column used once."""
    by_squashed = {_squash(name): name for name in header}
    mapping, used = {}, set()
    for name, column in (remembered or {}).items():
        if name in FIELDS and column in header and column not in used:
            mapping[name] = column
            used.add(column)
    for name in FIELDS:
        if name in mapping:
            continue
        column = next((by_squashed[known] for known in FIELD_NAMES[name]
                       if known in by_squashed and by_squashed[known] not in used), None)
        if column is None:
            column = next((column for column in header if column not in used
                           and any(word in _squash(column) for word in FIELD_WORDS[name])), None)
        if column is not None:
            mapping[name] = column
            used.add(column)
    return mapping


def check_mapping(mapping: dict, header: list[str]) -> dict[str, str]:
    """The mapping cleaned (empty fields dropped); raises FileProblem naming the field that is wrong."""
    cleaned = {}
    for name, column in (mapping or {}).items():
        if name not in FIELDS:
            raise FileProblem(f"Unknown field {name!r}: use one of {', '.join(FIELDS)}.")
        if not column:
            continue
        if column not in header:
            raise FileProblem(f"{FIELD_LABELS[name]}: the file has no column {column!r} "
                              f"(its columns: {', '.join(header)}).")
        cleaned[name] = column
    for name in REQUIRED_FIELDS:
        if name not in cleaned:
            raise FileProblem(f"Choose the column that holds the {FIELD_LABELS[name].lower()}.")
    columns = list(cleaned.values())
    duplicate = next((column for column in columns if columns.count(column) > 1), None)
    if duplicate:
        raise FileProblem(f"The column {duplicate!r} is chosen for two fields; choose one column per field.")
    return cleaned
