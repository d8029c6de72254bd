"""What an analysis keeps of a dispatch extract: counts by call type, by hour and weekday, by priority,
disposition and unit type (each a margin of the file, never a row), the unreadable rows counted with up to 20
examples, and the period the calls cover. Stored as JSON; results are recomputed from it."""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

MAX_EXAMPLES = 20
# Free-text margins (a disposition column full of notes, say) keep their biggest values; the rest is summed.
MAX_VALUES = 500
OTHER_VALUES = "(other values)"
# A call type column of free text would make the stored aggregate as big as the file: the biggest types are
# kept, the rest summed into one type no table maps.
MAX_CALL_TYPES = 50_000
OTHER_CALL_TYPES = "(other call types, each rarer than these)"


def _pairs(counter: dict) -> list[list]:
    return [[value, calls] for value, calls in counter.items()]


def capped(counter: dict, limit: int = MAX_VALUES, other: str = OTHER_VALUES) -> dict:
    if len(counter) <= limit:
        return counter
    ranked = sorted(counter.items(), key=lambda item: (item[0] is None, -item[1], item[0] or ""))
    kept = dict(ranked[:limit - 1])
    kept[other] = kept.get(other, 0) + sum(calls for _, calls in ranked[limit - 1:])
    return kept


@dataclass
class Aggregate:
    call_types: dict[str, int] = field(default_factory=dict)          # call type as written -> calls
    # [weekday 0=Monday][hour 0..23] -> calls with a readable received time
    times: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    priorities: dict = field(default_factory=dict)                     # value (None: not given) -> calls
    dispositions: dict = field(default_factory=dict)
    unit_types: dict = field(default_factory=dict)
    mapped: tuple[str, ...] = ()                                       # the fields the file's mapping gave
    rows: int = 0                                                      # records read, readable or not
    unreadable: dict[str, int] = field(default_factory=dict)           # reason -> rows
    examples: list[list] = field(default_factory=list)                 # [[line, reason]], at most 20
    period_start: date | None = None
    period_end: date | None = None

    @property
    def calls(self) -> int:
        return sum(self.call_types.values())

    @property
    def unreadable_rows(self) -> int:
        return sum(self.unreadable.values())

    @classmethod
    def from_groups(cls, groups, **values) -> "Aggregate":
        """The aggregate of rows already grouped: tuples (call_type, hour|None, weekday|None, priority|None,
        disposition|None, unit_type|None, calls), the shape the tests and the benchmark write by hand."""
        aggregate = cls(**values)
        margins = (aggregate.priorities, aggregate.dispositions, aggregate.unit_types)
        counters = [defaultdict(int) for _ in margins]
        types = defaultdict(int)
        for call_type, hour, weekday, priority, disposition, unit_type, calls in groups:
            calls = int(calls)
            if calls <= 0 or not call_type:
                continue
            types[call_type] += calls
            if hour is not None and weekday is not None:
                aggregate.times[int(weekday)][int(hour)] += calls
            for counter, value in zip(counters, (priority, disposition, unit_type)):
                counter[value] += calls
        aggregate.call_types = dict(types)
        for margin, counter in zip(margins, counters):
            if any(value is not None for value in counter):
                margin.update(capped(counter))
        return aggregate

    def to_json(self) -> dict:
        return {
            "call_types": _pairs(self.call_types),
            "times": [list(row) for row in self.times],
            "priorities": _pairs(self.priorities),
            "dispositions": _pairs(self.dispositions),
            "unit_types": _pairs(self.unit_types),
            "mapped": list(self.mapped),
            "rows": self.rows,
            "unreadable": dict(self.unreadable),
            "examples": [list(example) for example in self.examples[:MAX_EXAMPLES]],
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Aggregate":
        def margin(key):
            return {value: int(calls) for value, calls in data.get(key) or ()}

        def day(key):
            return date.fromisoformat(data[key]) if data.get(key) else None

        times = data.get("times") or [[0] * 24 for _ in range(7)]
        return cls(call_types=margin("call_types"), times=[[int(n) for n in row] for row in times],
                   priorities=margin("priorities"), dispositions=margin("dispositions"),
                   unit_types=margin("unit_types"), mapped=tuple(data.get("mapped") or ()),
                   rows=int(data.get("rows") or 0),
                   unreadable={reason: int(n) for reason, n in (data.get("unreadable") or {}).items()},
                   examples=[list(example) for example in data.get("examples") or ()],
                   period_start=day("period_start"), period_end=day("period_end"))
