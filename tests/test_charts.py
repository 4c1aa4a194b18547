"""The impact report's charts, written as SVG text: well-formed, offline, the figures' labels
and values as text, bars sized by their values, legends, and the same bytes for the same figures.
No Spark: the charts are made from plain dicts of figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from clearsweep.decide.rules import BAD_DISP_DATE, BAD_DOB, BAD_OTHER_DATE, CITY_ATTORNEYS, DISMISSAL, HAND_REVIEW, NOT_ELIGIBLE, REDUCTION
from clearsweep.outputs.figures import UNDATED_DECADE
from clearsweep.reports import charts

TITLES = {"chosenPolicy": "Chosen policy", "dismissAllProp64": "Dismiss all Prop 64",
          "dismissAllProp64AndRelated": "Dismiss all Prop 64 and related"}
MEASURES = ("peopleRelieved", "peopleWithNoFelony", "peopleWithNoConviction", "peopleWithNoConvictionLast7Years")
EXTENDED = {
    "scenarios": {"chosenPolicy": dict(zip(MEASURES, (1200, 300, 150, 600))),
                  "dismissAllProp64": dict(zip(MEASURES, (1800, 450, 0, 900))),
                  "dismissAllProp64AndRelated": dict(zip(MEASURES, (2400, 600, 300, 1200)))},
    "bySection": {"11357": {DISMISSAL: 4000, REDUCTION: 0, HAND_REVIEW: 300, NOT_ELIGIBLE: 0},
                  "11359": {DISMISSAL: 1000, REDUCTION: 2500, HAND_REVIEW: 100, NOT_ELIGIBLE: 400},
                  "related charges": {NOT_ELIGIBLE: 700}},
    "byDecade": {"1990s": {DISMISSAL: 10, REDUCTION: 20}, "2010s": {DISMISSAL: 35, HAND_REVIEW: 5},
                 UNDATED_DECADE: {HAND_REVIEW: 7}},
    "peopleByRace": {"WHITE": {"withProp64Conviction": 300, "relieved": 100}, "BLACK": {"withProp64Conviction": 500, "relieved": 0},
                     "ASIAN": {"withProp64Conviction": 200, "relieved": 150}},
    "humanReviewCountByReason": {BAD_DOB: 30, BAD_DISP_DATE: 1520, BAD_OTHER_DATE: 812},
}
RECT = re.compile(r"M(-?[\d.]+) (-?[\d.]+)H(-?[\d.]+)V(-?[\d.]+)H(-?[\d.]+)Z")


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _texts(root: ET.Element) -> list[str]:
    """Each <text> as its lines (one a <tspan>) joined by newlines."""
    return ["\n".join(t.itertext()) for t in root.iter("text")]


def _bottom(root: ET.Element) -> float:
    """The plot's bottom edge: the axes path starts at the top of the left axis and goes down."""
    axes = next(p.get("d") for p in root.iter("path") if p.get("fill") == "none")
    return float(re.match(r"M[\d.]+ [\d.]+V([\d.]+)", axes).group(1))


def _rects(root: ET.Element, colour: str) -> tuple[list, list]:
    """The (x0, y0, x1, y1) of the bars of a colour in the plot, and of its legend keys under it."""
    rects = []
    for p in root.iter("path"):
        if p.get("fill") == colour:
            m = RECT.fullmatch(p.get("d"))
            assert m and m.group(1) == m.group(5), p.get("d")
            x0, y0, x1, y1 = map(float, m.group(1, 2, 3, 4))
            rects.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    bottom = _bottom(root)
    return [r for r in rects if r[3] <= bottom + 0.01], [r for r in rects if r[1] > bottom]


def _legend(root: ET.Element) -> list[str]:
    bottom = _bottom(root)
    return [t.text for t in root.iter("text") if float(t.get("y", 0)) > bottom + 30 and t.get("font-size") == "8.5"]


@pytest.mark.parametrize("name", ["scenarios", "sections", "decades", "race", "review"])
def test_each_chart_is_an_offline_svg_with_its_title_and_a_path(name):
    svg = charts.all_charts(EXTENDED, TITLES)[name]
    root = _parse(svg)  # well-formed XML
    assert root.tag == "svg" and root.get("role") == "img" and root.get("aria-label") == f"{name} chart"
    assert root.get("width") == "504pt" and root.get("viewBox") == f"0 0 504 {root.get('height').removesuffix('pt')}"
    assert root.get("font-family") == "sans-serif"
    title = root.find("title").text
    assert title and title in _texts(root)
    assert "<path" in svg and "<text" in svg
    for banned in ("<?xml", "<!DOCTYPE", "metadata", "xmlns", "<script", "http", "href"):
        assert banned not in svg
    assert all(e.get("id").startswith(f"chart-{name}-") for e in root.iter() if e.get("id"))
    sizes = {float(t.get("font-size")) for t in root.iter("text")}
    assert sizes and min(sizes) >= 8 and max(sizes) <= 10
    # coordinates at two decimals at most: the bytes do not depend on float noise
    assert not re.search(r"\d\.\d{3}", svg)


def test_same_figures_same_bytes_and_heights_follow_the_categories():
    first = charts.all_charts(EXTENDED, TITLES)
    assert charts.all_charts(EXTENDED, TITLES) == first
    heights = {name: float(_parse(svg).get("height").removesuffix("pt")) for name, svg in first.items()}
    assert heights == pytest.approx({"scenarios": 72 * 3.6, "sections": 72 * (0.45 * 3 + 1.6), "decades": 72 * 3.4,
                                     "race": 72 * (0.42 * 3 + 1.6), "review": 72 * (0.4 * 3 + 1.0)})


def test_review_bars_are_as_long_as_their_counts_largest_on_top():
    root = _parse(charts.review_chart(EXTENDED["humanReviewCountByReason"]))
    bars, keys = _rects(root, charts.COLOURS[HAND_REVIEW])
    assert len(bars) == 3 and keys == [] and _legend(root) == []  # one bar a reason, no legend
    bars.sort(key=lambda r: r[1])  # top to bottom
    lengths = [x1 - x0 for x0, _, x1, _ in bars]
    assert {x0 for x0, *_ in bars} == {bars[0][0]}  # from the same axis
    assert lengths[0] / lengths[1] == pytest.approx(1520 / 812, rel=1e-3)
    assert lengths[0] / lengths[2] == pytest.approx(1520 / 30, rel=1e-3)
    texts = _texts(root)
    assert [t for t in texts if t in EXTENDED["humanReviewCountByReason"]] == [BAD_DISP_DATE, BAD_OTHER_DATE, BAD_DOB]
    assert {"1,520", "812", "30", "convictions"} <= set(texts)


def test_stacked_sections_follow_the_order_and_skip_all_zero_determinations():
    root = _parse(charts.determinations_chart(EXTENDED["bySection"], "sections", "By section", True))
    assert _legend(root) == [DISMISSAL, REDUCTION, HAND_REVIEW, NOT_ELIGIBLE]  # no city attorneys: all zero
    assert _rects(root, charts.COLOURS[CITY_ATTORNEYS]) == ([], [])
    segments = []
    for det in charts.ORDER:
        bars, keys = _rects(root, charts.COLOURS[det])
        values = [row.get(det, 0) for row in EXTENDED["bySection"].values()]
        assert len(bars) == sum(v > 0 for v in values) and len(keys) == (1 if any(values) else 0)
        segments += [(bar, det) for bar in bars]
    by_row: dict = {}
    for bar, det in segments:
        by_row.setdefault(round((bar[1] + bar[3]) / 2, 1), []).append((bar, det))
    rows = [sorted(row, key=lambda s: s[0][0]) for _, row in sorted(by_row.items())]  # top to bottom, left to right
    assert [[det for _, det in row] for row in rows] == [[DISMISSAL, HAND_REVIEW], [DISMISSAL, REDUCTION, HAND_REVIEW, NOT_ELIGIBLE],
                                                          [NOT_ELIGIBLE]]
    for row in rows:  # stacked: each segment starts where the one before it ends
        assert all(a[0][2] == pytest.approx(b[0][0]) for a, b in zip(row, row[1:]))
    spans = [row[-1][0][2] - row[0][0][0] for row in rows]
    assert spans[0] / spans[1] == pytest.approx(4300 / 4000, rel=1e-3) and spans[2] / spans[1] == pytest.approx(700 / 4000, rel=1e-3)
    texts = _texts(root)
    assert {"4,300", "4,000", "700", "11357", "11359", "related charges", "convictions"} <= set(texts)
    assert texts.index("11357") < texts.index("11359") < texts.index("related charges")


def test_decades_stand_up_with_the_undated_key_on_two_lines():
    svg = charts.determinations_chart(EXTENDED["byDecade"], "decades", "By decade", False)
    root = _parse(svg)
    undated = next(t for t in root.iter("text") if "\n".join(t.itertext()) == "no usable\ndate")
    assert [s.text for s in undated.iter("tspan")] == ["no usable", "date"]
    assert "date unusable" not in svg
    bars, _ = _rects(root, charts.COLOURS[HAND_REVIEW])
    left_to_right = sorted(bars)
    heights = [y1 - y0 for _, y0, _, y1 in left_to_right]
    assert heights[1] / heights[0] == pytest.approx(7 / 5, rel=1e-3)  # 2010s: 5, undated: 7
    assert left_to_right[1][3] == pytest.approx(_bottom(root))  # undated: standing on the axis
    dismissed, _ = _rects(root, charts.COLOURS[DISMISSAL])
    assert left_to_right[0][3] == pytest.approx(max(dismissed)[1])  # 2010s: on top of its dismissals
    label = next(t for t in root.iter("text") if t.text == "convictions")
    assert label.get("transform", "").startswith("rotate(-90")
    ticks = [t for t in _texts(root) if re.fullmatch(r"[\d,.]+", t)]
    assert {"30", "40", "7"} <= set(ticks)  # the totals
    assert all("." not in t for t in ticks)  # a count axis ticks whole numbers


def test_scenarios_chart_a_bar_per_scenario_and_measure_and_its_legend():
    root = _parse(charts.scenarios_chart(EXTENDED["scenarios"], TITLES))
    assert _legend(root) == list(TITLES.values())
    for key, colour in zip(TITLES, charts.SCENARIO_COLOURS):
        bars, keys = _rects(root, colour)
        values = EXTENDED["scenarios"][key]
        assert len(bars) == sum(v > 0 for v in values.values()) and len(keys) == 1
    assert {"1,200", "2,400", "people", "relieved", "no conviction\nin the last 7 years"} <= set(_texts(root))
    chosen, _ = _rects(root, charts.SCENARIO_COLOURS[0])
    widest, _ = _rects(root, charts.SCENARIO_COLOURS[2])
    assert (widest[0][2] - widest[0][0]) / (chosen[0][2] - chosen[0][0]) == pytest.approx(2, rel=1e-3)


def test_race_shares_in_percent_sorted_by_people_with_a_conviction():
    root = _parse(charts.race_chart(EXTENDED["peopleByRace"]))
    texts = _texts(root)
    assert [t for t in texts if t in EXTENDED["peopleByRace"]] == ["BLACK", "WHITE", "ASIAN"]
    assert {"50.0%", "30.0%", "20.0%", "40.0%", "60.0%", "percent"} <= set(texts) and "0.0%" not in texts
    assert _legend(root) == ["share of people with a Prop 64 conviction", "share of people relieved"]
    grey, _ = _rects(root, "#9e9e9e")
    green, _ = _rects(root, "#2e7d32")
    assert len(grey) == 3 and len(green) == 2  # BLACK: no one relieved, no bar
    assert (green[1][2] - green[1][0]) / (grey[0][2] - grey[0][0]) == pytest.approx(60 / 50, rel=1e-3)


def test_labels_are_escaped():
    svg = charts.review_chart({"a <b> & c": 3, BAD_DOB: 1})
    assert "a &lt;b&gt; &amp; c" in svg and "<b>" not in svg
    assert "a <b> & c" in _texts(_parse(svg))


def test_nothing_is_drawn_past_the_edges():
    long = {"Unusable date on another conviction, and a longer reason": 123456, "short": 1}
    for svg in [*charts.all_charts(EXTENDED, TITLES).values(), charts.review_chart(long)]:
        root = _parse(svg)
        width, height = 504, float(root.get("height").removesuffix("pt"))
        for t in root.iter("text"):
            spans = list(t.iter("tspan")) or [t]
            for span in spans:
                x, y = float(span.get("x")), float(span.get("y"))
                w = charts._width(span.text, float(t.get("font-size")), t.get("font-weight") == "bold")
                start = {"start": x, "middle": x - w / 2, "end": x - w}[t.get("text-anchor", "start")]
                if t.get("transform"):
                    continue  # the rotated axis label: its length runs down the plot
                assert 0 <= start and start + w <= width and 0 < y <= height, (span.text, start, w)


@pytest.mark.parametrize("limit, whole, want", [
    (1, True, [0, 1]), (3, True, [0, 1, 2, 3]), (7, True, [0, 2, 4, 6]), (12, True, [0, 2, 4, 6, 8, 10, 12]),
    (17, True, [0, 5, 10, 15]), (225_000, True, [0, 50_000, 100_000, 150_000, 200_000]), (11.5, False, [0, 2, 4, 6, 8, 10]),
    (1.3, False, [0, 0.25, 0.5, 0.75, 1, 1.25]),
])
def test_ticks_are_at_a_nice_step_whole_on_count_axes(limit, whole, want):
    assert charts._ticks(limit, whole) == pytest.approx(want)


def test_empty_and_zero_figures_draw_without_failing():
    zeros = {k: dict.fromkeys(MEASURES, 0) for k in TITLES}
    cases = [charts.scenarios_chart(zeros, TITLES),
             charts.determinations_chart({"11357": {DISMISSAL: 0}}, "sections", "t", True),
             charts.determinations_chart({UNDATED_DECADE: {HAND_REVIEW: 0}}, "decades", "t", False),
             charts.determinations_chart({}, "sections", "t", True),
             charts.race_chart({"WHITE": {"withProp64Conviction": 0, "relieved": 0}}),
             charts.review_chart({BAD_DOB: 1})]
    for svg in cases:
        assert "nan" not in svg and "inf" not in svg and "<path" in svg and _parse(svg) is not None
    for svg in cases[:-1]:  # no bar for a zero
        assert all(_rects(_parse(svg), c)[0] == [] for c in (*charts.COLOURS.values(), *charts.SCENARIO_COLOURS))
    assert "0" in _texts(_parse(cases[1]))  # the key's total, on an axis of whole numbers
    assert len(_rects(_parse(cases[-1]), charts.COLOURS[HAND_REVIEW])[0]) == 1
