"""The impact report's charts: bar charts written as SVG text that is inlined in the page.

matplotlib drew them before, at about 90 ms of Python CPU a chart (its layout and text
measuring): 25 s for a statewide delivery's 290 charts, competing with Spark on the driver's
cores, for charts that are a few rectangles and texts. Text is not measured but estimated from
its characters, generously, so that no label is clipped. Text stays text, nothing refers outside
the chart, and the same figures always give the same bytes (coordinates at a fixed precision)."""

from __future__ import annotations

import math
from html import escape

from clearsweep.decide import rules
from clearsweep.outputs.figures import UNDATED_DECADE

COLOURS = {
    rules.DISMISSAL: "#2e7d32", rules.REDUCTION: "#1565c0", rules.CITY_ATTORNEYS: "#8e44ad",
    rules.HAND_REVIEW: "#ef6c00", rules.NOT_ELIGIBLE: "#9e9e9e",
}
ORDER = tuple(COLOURS)
CHART_KEYS = {UNDATED_DECADE: "no usable\ndate"}  # axis labels shorter than the figures' keys
SCENARIO_COLOURS = ("#1f3a5f", "#5b8cc4", "#b7cde6")
WIDTH = 504.0  # points (7 inches): the printable width of a letter page with margins
AXIS = "#777777"  # the axis lines and tick marks: light, the bars carry the figures
PAD, TICK, GAP, LINE, ROW = 6.0, 3.5, 3.0, 1.2, 13.0  # page edge, tick mark, label gap, line height (em), legend row
TOP, UNDER = 28.0, 14.0  # the title's band above the plot; the axis label's band under it
# Glyph widths in ems, about DejaVu Sans's: a wide sans-serif (Arial and Liberation Sans are
# narrower), so a label's estimated room is enough whichever the reader's browser picks.
NARROW, WIDE = frozenset("iljtfrI.,:;'!|()[] "), frozenset("mwMW%@")


def _width(text: str, size: float = 9, bold: bool = False) -> float:
    """The estimated width of the longest line of `text`, in points."""
    def em(c: str) -> float:
        return 0.4 if c in NARROW else 1.0 if c in WIDE else 0.74 if c.isupper() else 0.64 if c.isdigit() else 0.62
    return max(sum(map(em, line)) for line in text.split("\n")) * size * (1.12 if bold else 1.0)


def _n(x: float) -> str:
    """A coordinate with two decimals and no trailing zeros: the same figures give the same bytes."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text(x: float, y: float, text: str, size: float = 9, anchor: str = "start", bold: bool = False, rotate: bool = False) -> str:
    """A label centred vertically on y (its baseline set from the size: printers ignore
    dominant-baseline); a label of several lines is one <tspan> a line."""
    lines = text.split("\n")
    first = y + 0.35 * size - (len(lines) - 1) * LINE * size / 2
    attrs = f'font-size="{_n(size)}"' + (f' text-anchor="{anchor}"' if anchor != "start" else "") + (
        ' font-weight="bold"' if bold else "") + (f' transform="rotate(-90 {_n(x)} {_n(y)})"' if rotate else "")
    if len(lines) == 1:
        return f'<text x="{_n(x)}" y="{_n(first)}" {attrs}>{escape(text)}</text>'
    spans = "".join(f'<tspan x="{_n(x)}" y="{_n(first + i * LINE * size)}">{escape(line)}</tspan>' for i, line in enumerate(lines))
    return f"<text {attrs}>{spans}</text>"


def _rect(x0: float, y0: float, x1: float, y1: float, colour: str) -> str:
    return f'<path d="M{_n(x0)} {_n(y0)}H{_n(x1)}V{_n(y1)}H{_n(x0)}Z" fill="{colour}"/>'


def _ticks(limit: float, whole: bool) -> list[float]:
    """Ticks from 0 to `limit` at a nice step (1, 2, 2.5 or 5 x 10^k) that gives 4 to 7 of them;
    a count axis ticks whole numbers only."""
    raw = limit / 6
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    if whole:
        step = 5 if step == 2.5 else max(step, 1)
    return [i * step for i in range(int(limit / step + 1e-9) + 1)]


def _tick_label(value: float, whole: bool) -> str:
    return f"{round(value):,}" if whole else f"{value:.2f}".rstrip("0").rstrip(".")


def _scale(length: float, bars: list, room) -> float:
    """Points a unit: the longest bar and its value label (room(label) points beyond it) fit in
    `length`; a bar gets at least half of it whatever its label, and without bars one unit is all."""
    fits = [max(length - (GAP + room(label) if label else 0), length / 2) / end
            for end, label in ((sum(v for v, _ in segments), label) for *_, segments, label in bars) if end > 0]
    return min(fits, default=length)


def _legend_columns(entries: list, columns: int) -> list[float]:
    """The widths of as many of `columns` as fit the page (a column: key, gap, its longest entry, space)."""
    for count in range(min(columns, len(entries)), 0, -1):
        widths = [16 + max(_width(text, 8.5) for _, text in entries[c::count]) + 14 for c in range(count)]
        if count == 1 or sum(widths) <= WIDTH - 2 * PAD:
            return widths


def _legend(entries: list, columns: int, top: float) -> list[str]:
    """The colour keys under the chart, row by row, centred on the page."""
    widths = _legend_columns(entries, columns)
    left = (WIDTH - sum(widths) + 14) / 2
    out = []
    for i, (colour, text) in enumerate(entries):
        x, y = left + sum(widths[:i % len(widths)]), top + ROW / 2 + (i // len(widths)) * ROW
        out += [_rect(x, y - 3.5, x + 12, y + 3.5, colour), _text(x + 16, y, text, 8.5)]
    return out


def _bars(bars: list, at, horizontal: bool) -> list[str]:
    """Each bar's segments stacked from 0 (none for a zero), and its label after its end."""
    out = []
    for c, offset, thickness, segments, label in bars:
        base, middle = 0, c + 0.5 + offset
        for value, colour in segments:
            if value > 0:
                out.append(_rect(*at(middle - thickness / 2, base), *at(middle + thickness / 2, base + value), colour))
            base += value
        x, y = at(middle, base)
        if label:
            out.append(_text(x + GAP, y, label, 8) if horizontal else _text(x, y - GAP - 4, label, 8, "middle"))
    return out


def _chart(name: str, title: str, inches: float, keys: list[str], bars: list, axis_label: str, legend: list | tuple = (),
           columns: int = 1, horizontal: bool = True, whole: bool = True) -> str:
    """Bars along categories (slots of one unit, the first key on top or at the left); a bar is
    (slot, offset, thickness, [(value, colour)], label or None). The plot takes what the labels
    leave of the page; horizontal charts carry the axis label under it, vertical ones at its left."""
    height = 72 * inches
    lines = 1 if horizontal else max((k.count("\n") + 1 for k in keys), default=1)
    under = TICK + GAP + lines * LINE * 9  # the tick labels' band under the plot
    rows = math.ceil(len(legend) / len(_legend_columns(legend, columns))) if legend else 0
    bottom = height - under - (UNDER if horizontal else 0) - (4 + rows * ROW if rows else 0) - PAD
    if horizontal:
        left = PAD + max(map(_width, keys), default=0) + TICK + GAP
        length = WIDTH - PAD - left
        scale = _scale(length, bars, lambda label: _width(label, 8))
    else:
        length = bottom - TOP
        scale = _scale(length, bars, lambda label: 8 * LINE)
    ticks = _ticks(length / scale, whole)
    if not horizontal:  # the value axis's labels are at the left: its width is known only now
        left = PAD + 9 * LINE + 4 + max(_width(_tick_label(t, whole)) for t in ticks) + TICK + GAP
    slot = ((bottom - TOP) if horizontal else (WIDTH - PAD - left)) / max(len(keys), 1)

    def at(c: float, v: float) -> tuple[float, float]:  # (slots, value) -> (x, y)
        return (left + scale * v, TOP + c * slot) if horizontal else (left + c * slot, bottom - scale * v)

    body = _bars(bars, at, horizontal)
    centres = [c + 0.5 for c in range(len(keys))]
    values = [(t, _tick_label(t, whole)) for t in ticks]
    if horizontal:  # on the bottom axis (x, label), on the left one (y, label)
        marks_x = [(at(0, t)[0], text) for t, text in values if at(0, t)[0] + _width(text) / 2 <= WIDTH]
        marks_y = [(at(c, 0)[1], key) for c, key in zip(centres, keys)]
        body.append(_text((left + WIDTH - PAD) / 2, bottom + under + UNDER / 2, axis_label, anchor="middle"))
    else:
        marks_x = [(at(c, 0)[0], key) for c, key in zip(centres, keys)]
        marks_y = [(at(0, t)[1], text) for t, text in values]
        body.append(_text(PAD + 4.5 * LINE, (TOP + bottom) / 2, axis_label, anchor="middle", rotate=True))
    body += [_text(x, bottom + TICK + GAP + (text.count("\n") + 1) * LINE * 4.5, text, anchor="middle") for x, text in marks_x]
    body += [_text(left - TICK - GAP, y, text, anchor="end") for y, text in marks_y]
    axes = f"M{_n(left)} {_n(TOP)}V{_n(bottom)}H{_n(WIDTH - PAD)}" + "".join(f"M{_n(x)} {_n(bottom)}v{TICK}" for x, _ in marks_x) + \
        "".join(f"M{_n(left)} {_n(y)}h-{TICK}" for y, _ in marks_y)
    body.append(f'<path d="{axes}" fill="none" stroke="{AXIS}" stroke-width="0.8"/>')
    if legend:
        body += _legend(legend, columns, bottom + under + (UNDER if horizontal else 0) + 4)
    heading = _text(max(PAD, min(left, WIDTH - PAD - _width(title, 10, True))), TOP / 2, title, 10, bold=True)
    return (f'<svg role="img" aria-label="{escape(name)} chart" width="{_n(WIDTH)}pt" height="{_n(height)}pt" '
            f'viewBox="0 0 {_n(WIDTH)} {_n(height)}" font-family="sans-serif"><title>{escape(title)}</title>'
            + heading + "".join(body) + "</svg>")


def _count(value: int) -> str | None:
    return f"{value:,}" if value > 0 else None


def scenarios_chart(scenarios: dict, titles: dict) -> str:
    """People relieved and left with no felony / no conviction / none in 7 years, per scenario."""
    measures = (("peopleRelieved", "relieved"), ("peopleWithNoFelony", "no felony left"),
                ("peopleWithNoConviction", "no conviction left"), ("peopleWithNoConvictionLast7Years", "no conviction\nin the last 7 years"))
    series = list(zip(titles, SCENARIO_COLOURS))
    bars = [(m, (i - 1) * 0.26, 0.26, [(scenarios[key][k], colour)], _count(scenarios[key][k]))
            for i, (key, colour) in enumerate(series) for m, (k, _) in enumerate(measures)]
    return _chart("scenarios", "People under each scenario", 3.6, [label for _, label in measures], bars, "people",
                  [(colour, titles[key]) for key, colour in series], 3)


def determinations_chart(by_key: dict, name: str, title: str, horizontal: bool) -> str:
    """Stacked bars of determinations per key (code section, or decade of conviction)."""
    keys = list(by_key)
    stacks, legend = [[] for _ in keys], []
    for det in ORDER:
        values = [by_key[k].get(det, 0) for k in keys]
        if any(values):
            legend.append((COLOURS[det], det))
            for stack, value in zip(stacks, values):
                stack.append((value, COLOURS[det]))
    bars = [(i, 0, 0.6, stack, f"{sum(v for v, _ in stack):,}") for i, stack in enumerate(stacks)]
    return _chart(name, title, 0.45 * len(keys) + 1.6 if horizontal else 3.4, [CHART_KEYS.get(k, k) for k in keys], bars,
                  "convictions", legend, 3, horizontal)


def race_chart(by_race: dict) -> str:
    """Each race's share of the people with a Prop 64 conviction next to its share of the people relieved."""
    races = sorted(by_race, key=lambda r: (-by_race[r]["withProp64Conviction"], r))
    series = (("withProp64Conviction", "#9e9e9e", "share of people with a Prop 64 conviction", -0.19),
              ("relieved", "#2e7d32", "share of people relieved", 0.19))
    bars = []
    for figure, colour, _, offset in series:
        total = sum(v[figure] for v in by_race.values()) or 1
        shares = [100 * by_race[r][figure] / total for r in races]
        bars += [(i, offset, 0.38, [(share, colour)], f"{share:.1f}%" if share > 0 else None) for i, share in enumerate(shares)]
    return _chart("race", "Relief by race, next to the race make-up of everyone with a Prop 64 conviction",
                  0.42 * len(races) + 1.6, races, bars, "percent", [(colour, label) for _, colour, label, _ in series], 2,
                  whole=False)


def review_chart(reasons: dict) -> str:
    items = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    bars = [(i, 0, 0.6, [(n, COLOURS[rules.HAND_REVIEW])], _count(n)) for i, (_, n) in enumerate(items)]
    return _chart("review", "Convictions sent to human review, by reason", 0.4 * len(items) + 1.0, [k for k, _ in items],
                  bars, "convictions")


def all_charts(extended: dict, scenario_titles: dict) -> dict[str, str | None]:
    """The page's charts (None where there is nothing to draw)."""
    return {
        "scenarios": scenarios_chart(extended["scenarios"], scenario_titles),
        "sections": determinations_chart(extended["bySection"], "sections", "Determinations by code section (HS)", True)
        if extended["bySection"] else None,
        "decades": determinations_chart(extended["byDecade"], "decades", "Determinations by decade of conviction", False)
        if extended["byDecade"] else None,
        "race": race_chart(extended["peopleByRace"]) if extended["peopleByRace"] else None,
        "review": review_chart(extended["humanReviewCountByReason"]) if extended["humanReviewCountByReason"] else None,
    }
