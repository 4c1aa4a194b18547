"""The impact report's charts: matplotlib (Agg backend, no display) drawn to SVG text that is
inlined in the page. Text stays text (no glyph paths), no metadata, no external references, and
the same figures always give the same bytes."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # before pyplot: never a display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from clearsweep.decide import rules  # noqa: E402
from clearsweep.outputs.figures import UNDATED_DECADE  # noqa: E402

COLOURS = {
    rules.DISMISSAL: "#2e7d32", rules.REDUCTION: "#1565c0", rules.CITY_ATTORNEYS: "#8e44ad",
    rules.HAND_REVIEW: "#ef6c00", rules.NOT_ELIGIBLE: "#9e9e9e",
}
ORDER = tuple(COLOURS)
CHART_KEYS = {UNDATED_DECADE: "no usable\ndate"}  # axis labels shorter than the figures' keys
SCENARIO_COLOURS = ("#1f3a5f", "#5b8cc4", "#b7cde6")
WIDTH = 7.0  # inches: the printable width of a letter page with margins
STYLE = {
    "font.family": "sans-serif", "font.size": 9, "svg.fonttype": "none", "axes.spines.top": False,
    "axes.spines.right": False, "axes.titlesize": 10, "axes.titleweight": "bold", "axes.titlelocation": "left",
}


def _svg(figure, name: str) -> str:
    """The figure as inline SVG: no XML prolog, DOCTYPE, metadata or namespace URLs (the HTML
    parser knows inline <svg>), ids unique to the chart. Count axes tick whole numbers."""
    for ax in figure.axes:
        axis = ax.yaxis if ax.get_ylabel() == "convictions" else ax.xaxis if ax.get_xlabel() in ("convictions", "people") else None
        if axis is not None:
            axis.set_major_locator(MaxNLocator(integer=True))
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": name, "svg.id": f"chart-{name}"}):
        figure.savefig(buf, format="svg", bbox_inches="tight",
                       metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    plt.close(figure)
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{name} chart" ', 1)


def _legend_below(figure, ax, columns: int) -> None:
    """The legend under the chart, outside the axes (constrained layout makes room for it)."""
    handles, labels = ax.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=columns, frameon=False, fontsize=8.5)


def _label_bars(ax, bars, horizontal: bool) -> None:
    for bar in bars:
        value = bar.get_width() if horizontal else bar.get_height()
        if value <= 0:
            continue
        text = f"{int(value):,}"
        if horizontal:
            ax.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=8)
        else:
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", fontsize=8)


def scenarios_chart(scenarios: dict, titles: dict) -> str:
    """People relieved and left with no felony / no conviction / none in 7 years, per scenario."""
    measures = (("peopleRelieved", "relieved"), ("peopleWithNoFelony", "no felony left"),
                ("peopleWithNoConviction", "no conviction left"), ("peopleWithNoConvictionLast7Years", "no conviction\nin the last 7 years"))
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(layout="constrained", figsize=(WIDTH, 3.6))
        height = 0.26
        for i, (key, colour) in enumerate(zip(titles, SCENARIO_COLOURS)):
            ys = [m + (i - 1) * height for m in range(len(measures))]
            bars = ax.barh(ys, [scenarios[key][k] for k, _ in measures], height, color=colour, label=titles[key])
            _label_bars(ax, bars, horizontal=True)
        ax.set_yticks(range(len(measures)), [label for _, label in measures])
        ax.invert_yaxis()
        ax.set_xlabel("people")
        ax.set_title("People under each scenario")
        _legend_below(figure, ax, 3)
        ax.margins(x=0.12)
        return _svg(figure, "scenarios")


def determinations_chart(by_key: dict, name: str, title: str, horizontal: bool) -> str:
    """Stacked bars of determinations per key (code section, or decade of conviction)."""
    keys = list(by_key)
    ticks = [CHART_KEYS.get(k, k) for k in keys]
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(layout="constrained", figsize=(WIDTH, 0.45 * len(keys) + 1.6 if horizontal else 3.4))
        base = [0] * len(keys)
        for det in ORDER:
            values = [by_key[k].get(det, 0) for k in keys]
            if not any(values):
                continue
            draw = ax.barh if horizontal else ax.bar
            draw(ticks, values, 0.6, **({"left": base} if horizontal else {"bottom": base}), color=COLOURS[det], label=det)
            base = [b + v for b, v in zip(base, values)]
        for i, total in enumerate(base):
            if horizontal:
                ax.annotate(f"{total:,}", (total, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
            else:
                ax.annotate(f"{total:,}", (i, total), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
        if horizontal:
            ax.invert_yaxis()
            ax.set_xlabel("convictions")
            ax.margins(x=0.1)
        else:
            ax.set_ylabel("convictions")
            ax.margins(y=0.12)
        ax.set_title(title)
        _legend_below(figure, ax, 3)
        return _svg(figure, name)


def race_chart(by_race: dict) -> str:
    """Each race's share of the people with a Prop 64 conviction next to its share of the people relieved."""
    races = sorted(by_race, key=lambda r: (-by_race[r]["withProp64Conviction"], r))
    with_p64 = sum(v["withProp64Conviction"] for v in by_race.values()) or 1
    relieved = sum(v["relieved"] for v in by_race.values()) or 1
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(layout="constrained", figsize=(WIDTH, 0.42 * len(races) + 1.6))
        height = 0.38
        ys = range(len(races))
        a = ax.barh([y - height / 2 for y in ys], [100 * by_race[r]["withProp64Conviction"] / with_p64 for r in races], height,
                    color="#9e9e9e", label="share of people with a Prop 64 conviction")
        b = ax.barh([y + height / 2 for y in ys], [100 * by_race[r]["relieved"] / relieved for r in races], height,
                    color="#2e7d32", label="share of people relieved")
        for bars in (a, b):
            for bar in bars:
                if bar.get_width() > 0:
                    ax.annotate(f"{bar.get_width():.1f}%", (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                                textcoords="offset points", va="center", fontsize=8)
        ax.set_yticks(list(ys), races)
        ax.invert_yaxis()
        ax.set_xlabel("percent")
        ax.set_title("Relief by race, next to the race make-up of everyone with a Prop 64 conviction")
        _legend_below(figure, ax, 2)
        ax.margins(x=0.12)
        return _svg(figure, "race")


def review_chart(reasons: dict) -> str:
    items = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(layout="constrained", figsize=(WIDTH, 0.4 * len(items) + 1.0))
        bars = ax.barh([k for k, _ in items], [v for _, v in items], 0.6, color=COLOURS[rules.HAND_REVIEW])
        _label_bars(ax, bars, horizontal=True)
        ax.invert_yaxis()
        ax.set_xlabel("convictions")
        ax.set_title("Convictions sent to human review, by reason")
        ax.margins(x=0.12)
        return _svg(figure, "review")


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
