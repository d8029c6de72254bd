"""The results of a call analysis, computed from its stored aggregate and a classification table: shares that
could go to an alternative response or a co-response, coverage, non-police share, time and priority counts."""
import re
from dataclasses import asdict, dataclass, field
from datetime import date

from portal.calls.aggregate import MAX_EXAMPLES, Aggregate
from portal.calls.classify import RESPONSE_LABELS, RESPONSES, Table, classify, is_non_police_unit

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS = tuple(range(24))
CSV_HEADER = ("call_type", "description", "calls", "share", "category", "category_name", "response")


@dataclass
class CallTypeResult:
    call_type: str                  # as written in the file
    calls: int
    category: str | None            # slug, None when unmapped
    category_name: str
    response: str                   # one of RESPONSES
    share: float                    # of all calls counted
    description: str | None = None  # from the jurisdiction's code table, when the file holds codes


@dataclass
class CategoryResult:
    category: str | None            # slug; None for the unmapped call types
    name: str
    response: str
    calls: int
    share: float
    call_types: int                 # how many distinct call types landed here


@dataclass
class CountResult:
    value: str | None               # a priority, disposition or unit type as written; None = not given
    calls: int
    share: float
    non_police: bool | None = None  # for unit types only


@dataclass
class Results:
    rows: int                       # data rows the engine read (as it reports them)
    calls: int                      # rows counted into the aggregate
    unreadable: int
    unreadable_reasons: dict        # reason -> rows
    unreadable_examples: list       # [[line, reason]], at most MAX_EXAMPLES
    call_types: list[CallTypeResult]
    by_category: list[CategoryResult]
    by_response: dict[str, int]     # every response in RESPONSES, 0 when none
    mapped_calls: int
    coverage: float | None          # share of calls whose type is mapped
    alternative_share: float | None
    co_response_share: float | None
    unmapped: list[CallTypeResult]  # biggest first
    has_unit_type: bool
    unit_type_calls: int            # calls with a unit type given
    non_police_calls: int
    non_police_share: float | None  # of the calls with a unit type
    by_unit_type: list[CountResult]
    heatmap: list[list[int]]        # [weekday 0=Monday][hour 0..23]
    heatmap_calls: int              # calls with a known hour and weekday
    by_hour: list[int]
    by_weekday: list[int]
    by_priority: list[CountResult]
    by_disposition: list[CountResult]
    period_start: date | None = None
    period_end: date | None = None
    labels: dict = field(default_factory=lambda: dict(RESPONSE_LABELS))

    @property
    def has_times(self) -> bool:
        return self.heatmap_calls > 0

    def share(self, response: str) -> float | None:
        return _share(self.by_response.get(response, 0), self.calls)

    def to_json(self) -> dict:
        """Plain JSON: what the export and `flask calls analyze --output` write."""
        data = {
            "calls": self.calls,
            "rows": self.rows,
            "unreadable": self.unreadable,
            "unreadable_reasons": dict(self.unreadable_reasons),
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "unreadable_examples": [list(example) for example in self.unreadable_examples],
            "coverage": self.coverage,
            "mapped_calls": self.mapped_calls,
            "alternative_share": self.alternative_share,
            "co_response_share": self.co_response_share,
            "by_response": dict(self.by_response),
            "by_category": [asdict(entry) for entry in self.by_category],
            "call_types": [_call_type_json(entry) for entry in self.call_types],
            "unmapped": [{"call_type": entry.call_type, "calls": entry.calls} for entry in self.unmapped],
            "non_police": None if not self.has_unit_type else {
                "unit_type_calls": self.unit_type_calls,
                "non_police_calls": self.non_police_calls,
                "share": self.non_police_share,
                "by_unit_type": [asdict(entry) for entry in self.by_unit_type],
            },
            "heatmap": None if not self.has_times else {
                "weekdays": list(WEEKDAYS), "hours": list(HOURS), "calls": self.heatmap_calls,
                "cells": [list(row) for row in self.heatmap],
            },
            "by_priority": [asdict(entry) for entry in self.by_priority],
            "by_disposition": [asdict(entry) for entry in self.by_disposition],
        }
        return data

    def to_csv_rows(self) -> tuple[tuple[str, ...], list[list]]:
        """(header, rows): one row per call type, biggest first, for portal.csv_export.csv_response."""
        rows = [[entry.call_type, entry.description or "", entry.calls, _rounded(entry.share),
                 entry.category or "", entry.category_name, entry.response] for entry in self.call_types]
        return CSV_HEADER, rows


def _call_type_json(entry: CallTypeResult) -> dict:
    data = {"call_type": entry.call_type, "calls": entry.calls, "category": entry.category,
            "category_name": entry.category_name, "response": entry.response, "share": entry.share}
    if entry.description is not None:
        data["description"] = entry.description
    return data


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rounded(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _natural_key(value: str | None):
    """Priorities sort as people read them: "2" before "10", text after numbers, "not given" last."""
    if value is None:
        return (1, ())
    parts = re.split(r"(\d+)", value.casefold())
    return (0, tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts if part))


def _counts(counter: dict, total: int, *, natural: bool) -> list[CountResult]:
    items = list(counter.items())
    if natural:
        items.sort(key=lambda item: _natural_key(item[0]))
    else:
        items.sort(key=lambda item: (item[0] is None, -item[1], item[0] or ""))
    return [CountResult(value=value, calls=calls, share=_share(calls, total) or 0.0) for value, calls in items]


def compute_results(aggregate: Aggregate, table: Table, *, code_table: dict[str, str] | None = None) -> Results:
    """Results from an analysis's stored aggregate. Each distinct call type is classified once; with a
    `code_table` (code -> description) a call type that is a code is classified by its description."""
    total = aggregate.calls
    codes = {str(code).strip().casefold(): str(text) for code, text in (code_table or {}).items()}
    call_types = []
    for call_type, calls in aggregate.call_types.items():
        description = codes.get(call_type.strip().casefold()) if codes else None
        category = classify(description or call_type, table)
        call_types.append(CallTypeResult(
            call_type=call_type, calls=calls, description=description,
            category=category.slug if category else None,
            category_name=category.name if category else RESPONSE_LABELS["unmapped"],
            response=category.response if category else "unmapped",
            share=_share(calls, total) or 0.0,
        ))
    call_types.sort(key=lambda entry: (-entry.calls, entry.call_type))

    by_response = dict.fromkeys(RESPONSES, 0)
    categories: dict = {}
    for entry in call_types:
        by_response[entry.response] += entry.calls
        slot = categories.setdefault(entry.category, [0, 0])
        slot[0] += entry.calls
        slot[1] += 1
    by_category = []
    order = list(table.categories)
    for slug in sorted(categories, key=lambda slug: (slug is None, -categories[slug][0],
                                                      order.index(slug) if slug in order else 0)):
        calls, count = categories[slug]
        category = table.categories.get(slug) if slug else None
        by_category.append(CategoryResult(
            category=slug, name=category.name if category else RESPONSE_LABELS["unmapped"],
            response=category.response if category else "unmapped",
            calls=calls, share=_share(calls, total) or 0.0, call_types=count))

    unit_results = []
    non_police_calls = unit_type_calls = 0
    for entry in _counts(aggregate.unit_types, total, natural=False):
        if entry.value is None:
            continue
        entry.non_police = bool(is_non_police_unit(entry.value, table))
        unit_type_calls += entry.calls
        non_police_calls += entry.calls if entry.non_police else 0
        unit_results.append(entry)
    for entry in unit_results:
        entry.share = _share(entry.calls, unit_type_calls) or 0.0
    has_unit_type = unit_type_calls > 0

    heatmap = [list(row) for row in aggregate.times]
    mapped = total - by_response["unmapped"]
    return Results(
        rows=aggregate.rows, calls=total, unreadable=aggregate.unreadable_rows,
        unreadable_reasons=dict(aggregate.unreadable),
        unreadable_examples=[list(example) for example in aggregate.examples[:MAX_EXAMPLES]],
        call_types=call_types, by_category=by_category, by_response=by_response,
        mapped_calls=mapped, coverage=_share(mapped, total),
        alternative_share=_share(by_response["alternative"], total),
        co_response_share=_share(by_response["co_response"], total),
        unmapped=[entry for entry in call_types if entry.response == "unmapped"],
        has_unit_type=has_unit_type, unit_type_calls=unit_type_calls, non_police_calls=non_police_calls,
        non_police_share=_share(non_police_calls, unit_type_calls) if has_unit_type else None,
        by_unit_type=unit_results,
        heatmap=heatmap, heatmap_calls=sum(map(sum, heatmap)),
        by_hour=[sum(row[hour] for row in heatmap) for hour in HOURS], by_weekday=[sum(row) for row in heatmap],
        by_priority=_counts(aggregate.priorities, total, natural=True),
        by_disposition=_counts(aggregate.dispositions, total, natural=False),
        period_start=aggregate.period_start, period_end=aggregate.period_end,
    )
