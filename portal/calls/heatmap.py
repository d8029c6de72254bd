"""The hour-of-day by day-of-week heat map: a server-rendered SVG (no script) and the table that holds its
numbers, both as escaped markup."""
import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from portal.calls.results import WEEKDAYS

# A sequential blue scale, light to dark. Every cell also has a dark outline (#595959, 7:1 on white), so a
# cell stays visible however light its fill; the exact numbers are in the table behind the picture.
EMPTY_FILL = "#ffffff"
FILLS = ("#deebf7", "#9ecae1", "#4292c6", "#2171b5", "#08306b")
OUTLINE = "#595959"
TEXT = "#1a1a1a"

CELL = 24
LEFT = 44      # room for the weekday labels
TOP = 22       # room for the hour labels
LEGEND = 46


@dataclass
class HeatmapTable:
    weekdays: tuple[str, ...]
    hours: tuple[int, ...]
    rows: list[tuple[str, list[int], int]]   # (weekday, 24 counts, total)
    hour_totals: list[int]
    total: int


def _cells(cells) -> list[list[int]]:
    rows = [[int(value or 0) for value in list(row)[:24]] for row in list(cells or [])[:7]]
    rows += [[0] * 24 for _ in range(7 - len(rows))]
    return [row + [0] * (24 - len(row)) for row in rows]


def level(count: int, highest: int) -> int:
    """0 for no calls, else 1..len(FILLS), by the share of the busiest cell."""
    if count <= 0 or highest <= 0:
        return 0
    return max(1, min(len(FILLS), math.ceil(count / highest * len(FILLS))))


def _fill(step: int) -> str:
    return EMPTY_FILL if step == 0 else FILLS[step - 1]


def _calls(count: int) -> str:
    return f"{count:,} call" + ("" if count == 1 else "s")


def heatmap_table(cells) -> HeatmapTable:
    rows = _cells(cells)
    hour_totals = [sum(row[hour] for row in rows) for hour in range(24)]
    return HeatmapTable(weekdays=WEEKDAYS, hours=tuple(range(24)),
                        rows=[(day, row, sum(row)) for day, row in zip(WEEKDAYS, rows)],
                        hour_totals=hour_totals, total=sum(hour_totals))


def heatmap_svg(cells, *, title: str = "Calls by hour of day and day of week", desc: str | None = None,
                id_prefix: str = "heatmap") -> Markup:
    """The heat map as an inline SVG with a <title> and a <desc> (role="img"); `id_prefix` keeps its ids unique
    on the page."""
    rows = _cells(cells)
    highest = max(max(row) for row in rows)
    total = sum(map(sum, rows))
    if desc is None:
        if total:
            day, hour = max(((d, h) for d in range(7) for h in range(24)), key=lambda dh: rows[dh[0]][dh[1]])
            desc = (f"{_calls(total)} by hour of day (columns, 0 to 23) and day of week (rows, Monday to "
                    f"Sunday); darker is more. The busiest hour is {WEEKDAYS[day]} {hour:02d}:00 to "
                    f"{hour:02d}:59 with {_calls(highest)}. The table that follows gives every number.")
        else:
            desc = "No calls with a known time. The table that follows gives every number."
    width = LEFT + 24 * CELL + 4
    height = TOP + 7 * CELL + LEGEND
    prefix = escape(id_prefix)
    parts = [
        Markup('<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" role="img" '
               'viewBox="0 0 {w} {h}" width="100%" aria-labelledby="{p}-title {p}-desc">').format(
            w=width, h=height, p=prefix),
        Markup('<title id="{p}-title">{t}</title><desc id="{p}-desc">{d}</desc>').format(
            p=prefix, t=title, d=desc),
        Markup('<g font-family="sans-serif" font-size="11" fill="{c}">').format(c=TEXT),
    ]
    for hour in range(0, 24, 3):
        parts.append(Markup('<text x="{x}" y="{y}" text-anchor="middle">{label}</text>').format(
            x=LEFT + hour * CELL + CELL // 2, y=TOP - 7, label=f"{hour:02d}"))
    for day, name in enumerate(WEEKDAYS):
        parts.append(Markup('<text x="{x}" y="{y}" text-anchor="end">{label}</text>').format(
            x=LEFT - 6, y=TOP + day * CELL + CELL // 2 + 4, label=name[:3]))
    parts.append(Markup("</g>"))
    parts.append(Markup('<g stroke="{o}" stroke-width="1">').format(o=OUTLINE))
    for day, row in enumerate(rows):
        for hour, count in enumerate(row):
            parts.append(Markup(
                '<rect x="{x}" y="{y}" width="{s}" height="{s}" fill="{f}" data-calls="{n}">'
                '<title>{label}</title></rect>').format(
                x=LEFT + hour * CELL, y=TOP + day * CELL, s=CELL, f=_fill(level(count, highest)), n=count,
                label=f"{WEEKDAYS[day]} {hour:02d}:00 to {hour:02d}:59: {_calls(count)}"))
    parts.append(Markup("</g>"))
    # The legend: the fills from none to most, with the counts each step stands for.
    legend_y = TOP + 7 * CELL + 14
    parts.append(Markup('<g font-family="sans-serif" font-size="11" fill="{c}">'
                        '<text x="{x}" y="{y}">Fewer</text>').format(c=TEXT, x=LEFT, y=legend_y + 13))
    for step in range(len(FILLS) + 1):
        low, high = _step_range(step, highest)
        label = "no calls" if step == 0 else f"{low:,} to {high:,} calls"
        parts.append(Markup(
            '<rect x="{x}" y="{y}" width="{s}" height="{s}" fill="{f}" stroke="{o}"><title>{label}</title>'
            '</rect>').format(x=LEFT + 40 + step * (CELL + 4), y=legend_y, s=CELL - 6, f=_fill(step),
                              o=OUTLINE, label=label))
    parts.append(Markup('<text x="{x}" y="{y}">More (busiest hour: {n})</text></g>').format(
        x=LEFT + 40 + (len(FILLS) + 1) * (CELL + 4) + 4, y=legend_y + 13, n=_calls(highest)))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _step_range(step: int, highest: int) -> tuple[int, int]:
    if step == 0 or highest <= 0:
        return 0, 0
    low = math.floor(highest * (step - 1) / len(FILLS)) + 1
    high = math.floor(highest * step / len(FILLS))
    return low, max(low, high)


def heatmap_table_markup(cells, *, caption: str = "Calls by hour of day and day of week",
                         id_prefix: str = "heatmap") -> Markup:
    """The numbers behind the heat map: a table in a keyboard-scrollable region (it is wide on a phone)."""
    data = heatmap_table(cells)
    prefix = escape(id_prefix)
    parts = [
        Markup('<div class="table-wrap" role="region" aria-labelledby="{p}-caption" tabindex="0">'
               '<table class="heatmap-table"><caption id="{p}-caption">{c} (hour 0 is midnight to 00:59)'
               '</caption><thead><tr><th scope="col">Day</th>').format(p=prefix, c=caption),
    ]
    parts += [Markup('<th scope="col">{h}</th>').format(h=f"{hour:02d}") for hour in data.hours]
    parts.append(Markup('<th scope="col">Total</th></tr></thead><tbody>'))
    for day, counts, total in data.rows:
        parts.append(Markup('<tr><th scope="row">{d}</th>').format(d=day))
        parts += [Markup("<td>{n}</td>").format(n=f"{count:,}") for count in counts]
        parts.append(Markup("<td>{n}</td></tr>").format(n=f"{total:,}"))
    parts.append(Markup('</tbody><tfoot><tr><th scope="row">Total</th>'))
    parts += [Markup("<td>{n}</td>").format(n=f"{count:,}") for count in data.hour_totals]
    parts.append(Markup("<td>{n}</td></tr></tfoot></table></div>").format(n=f"{data.total:,}"))
    return Markup("").join(parts)
