"""SVG drawn on the server: a jurisdiction's diversion rate over time (inline in its page, with the same
numbers in a table beside it) and the embeddable badge. No script; every text is escaped."""
from datetime import date

from markupsafe import Markup, escape

from portal.jurisdictions.figures import month_index

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 16, 36


def percent(rate: float | None, digits: int = 1) -> str:
    if rate is None:
        return "no figure"
    return f"{rate * 100:.{digits}f}%"


def _nice_top(highest: float) -> float:
    for top in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0):
        if highest <= top:
            return top
    return 1.0


def _month_label(day: date) -> str:
    return f"{day:%b %Y}"


def rate_chart(reports, *, goal_rate: float | None = None, chart_id: str = "rate-chart") -> Markup:
    """One bar per report, as wide as the months it covers and as high as its diversion rate; a dashed line
    at the goal. Sample reports are drawn hatched (and say so in their tooltip title)."""
    reports = [report for report in reports if report.total]
    if not reports:
        return Markup("")
    first = month_index(reports[0].period_start)
    last = month_index(reports[-1].period_end)
    months = last - first + 1
    highest = max([report.rate for report in reports] + ([goal_rate] if goal_rate else []))
    top = _nice_top(highest or 0.01)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + plot_w * (index - first) / months

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate / top)

    lowest_rate, highest_rate = min(r.rate for r in reports), max(r.rate for r in reports)
    description = (f"{len(reports)} reports from {_month_label(reports[0].period_start)} to "
                   f"{_month_label(reports[-1].period_end)}; the diversion rate ranges from {percent(lowest_rate)} "
                   f"to {percent(highest_rate)}" + (f"; the goal is {percent(goal_rate, 0)}" if goal_rate else "")
                   + ". The table below gives every figure.")
    parts = [f'<svg class="rate-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-title">Diversion rate by reporting period</title>',
             f'<desc id="{chart_id}-desc">{escape(description)}</desc>']
    for step in range(5):
        rate = top * step / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(rate):.1f}" y2="{y(rate):.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y(rate) + 4:.1f}" text-anchor="end">'
                     f'{percent(rate, 0 if top >= 0.1 else 1)}</text>')
    for year in range(reports[0].period_start.year, reports[-1].period_end.year + 1):
        index = year * 12
        if first <= index <= last:
            parts.append(f'<line class="tick" x1="{x(index):.1f}" x2="{x(index):.1f}" y1="{TOP}" '
                         f'y2="{HEIGHT - BOTTOM + 4}"/>')
            parts.append(f'<text class="axis" x="{x(index) + 3:.1f}" y="{HEIGHT - BOTTOM + 18}">{year}</text>')
    for report in reports:
        left, right = x(month_index(report.period_start)), x(month_index(report.period_end) + 1)
        height = max(HEIGHT - BOTTOM - y(report.rate), 0.5)
        label = (f"{report.period_start.isoformat()} to {report.period_end.isoformat()}: {percent(report.rate)} "
                 f"({report.diverted:,} of {report.total:,})" + (", sample data" if report.is_sample else ""))
        parts.append(f'<rect class="bar{" bar-sample" if report.is_sample else ""}" x="{left + 0.5:.1f}" '
                     f'y="{HEIGHT - BOTTOM - height:.1f}" width="{max(right - left - 1, 0.5):.1f}" '
                     f'height="{height:.1f}"><title>{escape(label)}</title></rect>')
    if goal_rate:
        parts.append(f'<line class="goal" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(goal_rate):.1f}" '
                     f'y2="{y(goal_rate):.1f}"/>')
        parts.append(f'<text class="goal-label" x="{WIDTH - RIGHT - 4}" y="{y(goal_rate) - 5:.1f}" '
                     f'text-anchor="end">goal {percent(goal_rate, 0)}</text>')
    parts.append(f'<line class="axis-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
                 f'y2="{HEIGHT - BOTTOM}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def badge(*, name: str, rate: float | None, months: int, progress_share: float | None, is_sample: bool) -> str:
    """A standalone SVG for a city's own website: its latest diversion rate, and its progress to goal."""
    left_text = "911 calls diverted"
    right_text = percent(rate) if rate is not None else "not reported"
    if rate is not None and months and months < 12:
        right_text += f" ({months} mo)"
    if progress_share is not None:
        right_text += f" · {percent(max(progress_share, 0), 0)} to goal"
    if is_sample:
        right_text += " · sample data"
    left_w = 8 + 7 * len(left_text)
    right_w = 8 + 7 * len(right_text)
    width = left_w + right_w
    title = f"{name}: {left_text} {right_text}"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" viewBox="0 0 {width} 20" '
            f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<rect width="{left_w}" height="20" fill="#3b3b3b"/>'
            f'<rect x="{left_w}" width="{right_w}" height="20" fill="{"#6b4e00" if is_sample else "#005a9c"}"/>'
            f'<g fill="#ffffff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
            f'<text x="5" y="14">{escape(left_text)}</text>'
            f'<text x="{left_w + 5}" y="14">{escape(right_text)}</text></g></svg>')
