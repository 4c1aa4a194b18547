"""The motion exhibit (motion_exhibit.csv/.html, review_list.csv) of `export`, the run's time in
summary.json, and the audit trail: every table keeps its history long enough that an old run
still exports, byte for byte, after VACUUM and a log clean-up with the tables' own settings.

One generated warehouse for the module (a two-county run, then a run of one county again); the
expected lines are rebuilt here in plain Python from the tables the runs wrote (the spec's rules
for dates and felonies), not through the exporter's join."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from clearsweep.errors import UserError
from clearsweep.exports import motion
from clearsweep.exports.county import export_county
from clearsweep.exports.motion import EXHIBIT_CSV, EXHIBIT_HEADERS, EXHIBIT_HTML, REVIEW_CSV, REVIEW_HEADERS
from clearsweep.outputs.layout import TABLES
from clearsweep.outputs.warehouse import RETENTION, Warehouse
from clearsweep.sweep import run_job

AS_OF = dt.date(2019, 11, 11)
COUNTIES = ["LOS ANGELES", "SACRAMENTO"]


# ---------------------------------------------------------------- the warehouse and its exports


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory):
    """Run 1: Los Angeles (la-2020) and Sacramento (statutory) under the default policy map;
    run 2: Los Angeles again under the statutory policy, a month later."""
    from jobs.cli import main as cli

    sample = tmp_path_factory.mktemp("sample")
    assert cli(["generate", "--rows", "4000", "--seed", "7", "--bad-rows", "2", "--out", str(sample)]) == 0
    root = tmp_path_factory.mktemp("wh")
    first = run_job(spark, [str(sample)], str(root), AS_OF, COUNTIES, None)
    second = run_job(spark, [str(sample)], str(root), AS_OF + dt.timedelta(days=31), ["LOS ANGELES"], "statutory")
    return root, first, second


@pytest.fixture(scope="module")
def exports(spark, warehouse, tmp_path_factory):
    """county, run -> (folder, export result): Sacramento and Los Angeles of run 1 (Los Angeles
    by --run, after run 2 replaced it), and Los Angeles of run 2 (the latest)."""
    root, first, second = warehouse
    out = {}
    for county, run in (("SACRAMENTO", None), ("LOS ANGELES", first["run_id"]), ("LOS ANGELES", None)):
        folder = tmp_path_factory.mktemp("export")
        result = export_county(spark, str(root), county, str(folder), run)
        out[(county, result["run_id"])] = (folder, result)
    assert {k[1] for k in out} == {first["run_id"], second["run_id"]}
    return out


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


# ---------------------------------------------------------------- what the lines should be (plain Python)


def mdy(written: str | None) -> str:
    """The spec's dates: YYYYMMDD, a real calendar date; anything else stays as written."""
    text = (written or "").strip(" ")
    if re.fullmatch(r"[0-9]{8}", text):
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:])).strftime("%m/%d/%Y")
        except ValueError:
            pass
    return text


def is_felony(row) -> bool:
    status = (row["CONV_STAT_DESCR"] or "").strip(" ")
    return status == "FELONY" or (status == "" and (row["OFFENSE_TOC"] or "").strip(" ") == "F")


def expected_lists(spark, root: Path, county: str, run_id: str) -> tuple[list[list[str]], list[list[str]]]:
    """(exhibit, review list) as they should be: every determination of the county in the run
    that grants relief / needs review, with its first input row's identity, in court order."""
    wh = Warehouse(str(root))
    run = wh.run_record(spark, run_id=run_id)
    dets = wh.read_county(spark, "determinations", county, run).collect()
    rows = {(r["file_index"], r["line_no"]): r for r in wh.read_county(spark, "history", county, run).collect()}
    lines = {"exhibit": [], "review": []}
    for d in dets:
        if d["determination"] not in (*motion.GRANTED, *motion.REVIEWED):
            continue
        row = rows[(d["file_index"], d["line_no"])]
        felony = is_felony(row)
        disposed = mdy(row["STP_EVENT_DATE"])
        identity = [(row["CII_NUMBER"] or "").strip(" "), (row["PRI_NAME"] or "").strip(" "), mdy(row["PRI_DOB"]),
                    (d["case_number"] or "").strip(" "), (row["STP_ORI_DESCR"] or "").strip(" "), (d["code_section"] or "").strip(" "),
                    disposed, "Felony" if felony else "Misdemeanor"]
        if d["determination"] == motion.DISMISSAL:
            tail, kind = ["dismiss and seal", d["statute"]], "exhibit"
        elif d["determination"] == motion.REDUCTION:
            tail, kind = ["reduce to misdemeanor" if felony else "reduce to infraction", d["statute"]], "exhibit"
        else:
            tail, kind = [d["determination"], d["reason"]], "review"
        dated = dt.datetime.strptime(disposed, "%m/%d/%Y").date() if re.fullmatch(r"\d\d/\d\d/\d{4}", disposed) else None
        key = (identity[4], identity[3], dated is None, dated or dt.date.min, identity[0], d["file_index"], d["line_no"])
        lines[kind].append((key, identity + tail))
    return tuple([line for _, line in sorted(lines[k])] for k in ("exhibit", "review"))


# ---------------------------------------------------------------- the lists


def test_labels_are_the_rules_labels():
    from clearsweep.decide import rules

    assert (motion.DISMISSAL, motion.REDUCTION, motion.HAND_REVIEW, motion.CITY_ATTORNEYS) == (
        rules.DISMISSAL, rules.REDUCTION, rules.HAND_REVIEW, rules.CITY_ATTORNEYS)


def test_relief_level_and_dates_as_columns(spark):
    """A felony reduced becomes a misdemeanor, a misdemeanor reduced an infraction, a dismissal is
    dismissed and sealed whatever the level; unusable dates print as written."""
    from pyspark.sql import functions as F

    cases = [(motion.DISMISSAL, True), (motion.DISMISSAL, False), (motion.REDUCTION, True), (motion.REDUCTION, False),
             (motion.HAND_REVIEW, True), (motion.CITY_ATTORNEYS, False)]
    df = spark.createDataFrame(cases, "determination string, felony boolean")
    got = df.select("determination", "felony", motion.relief(F.col("determination"), F.col("felony")).alias("relief"),
                    motion.level(F.col("felony")).alias("level")).collect()
    assert {(r["determination"], r["felony"]): (r["relief"], r["level"]) for r in got} == {
        (motion.DISMISSAL, True): ("dismiss and seal", "Felony"),
        (motion.DISMISSAL, False): ("dismiss and seal", "Misdemeanor"),
        (motion.REDUCTION, True): ("reduce to misdemeanor", "Felony"),
        (motion.REDUCTION, False): ("reduce to infraction", "Misdemeanor"),
        (motion.HAND_REVIEW, True): (None, "Felony"),
        (motion.CITY_ATTORNEYS, False): (None, "Misdemeanor"),
    }
    from clearsweep.dates import parse_yyyymmdd

    written = ["19700105", " 19700105 ", "00000000", "19700000", "19700230", "", None, "1/5/1970"]
    dates = spark.createDataFrame([(w,) for w in written], "w string")
    got = dict(dates.select("w", motion.date_as_filed(parse_yyyymmdd(F.col("w")), F.col("w")).alias("d")).collect())
    assert got == {w: mdy(w) for w in written}
    assert got["19700105"] == "01/05/1970" and got["00000000"] == "00000000" and got[None] == ""


@pytest.mark.parametrize("which", [0, 1, 2])
def test_exhibit_and_review_list_lines(spark, warehouse, exports, which):
    """Columns in order, one line per conviction granted relief (or for review) with its identity
    from its first input row, the relief and statute (or determination and reason), sorted by
    court, case number, disposition date, CII."""
    (county, run_id), (folder, _) = sorted(exports.items())[which]
    exhibit, review = read_csv(folder / EXHIBIT_CSV), read_csv(folder / REVIEW_CSV)
    assert exhibit[0] == list(EXHIBIT_HEADERS) == [
        "CII Number", "Name", "Date of Birth", "Court Case Number(s)", "Court", "Code Section", "Date of Disposition",
        "Felony or Misdemeanor", "Relief", "Statute"]
    assert review[0] == list(REVIEW_HEADERS) == [*EXHIBIT_HEADERS[:8], "Determination", "Reason"]
    want_exhibit, want_review = expected_lists(spark, warehouse[0], county, run_id)
    assert exhibit[1:] == want_exhibit
    assert review[1:] == want_review
    assert all(len(line) == 10 and line[0] and line[1] for line in exhibit[1:] + review[1:])


def test_the_sample_exercises_every_kind_of_line(exports):
    """The lines above cover both reliefs of a felony and both review determinations (so the
    comparisons are not vacuous), and courts and case numbers that need sorting."""
    reliefs, levels, reviews, courts = Counter(), Counter(), Counter(), set()
    for folder, _ in exports.values():
        for line in read_csv(folder / EXHIBIT_CSV)[1:]:
            reliefs[line[8]] += 1
            levels[(line[7], line[8])] += 1
            courts.add(line[4])
        for line in read_csv(folder / REVIEW_CSV)[1:]:
            reviews[(line[8], line[9])] += 1
    assert reliefs["dismiss and seal"] > 0 and reliefs["reduce to misdemeanor"] > 0
    assert levels[("Felony", "dismiss and seal")] > 0 and levels[("Misdemeanor", "dismiss and seal")] > 0
    assert {d for d, _ in reviews} == {motion.HAND_REVIEW, motion.CITY_ATTORNEYS}
    assert reviews[(motion.CITY_ATTORNEYS, "Misdemeanor or Infraction")] > 0
    assert len(courts) == 2  # one court per county in the generated sample: court order is tested below


def test_counts_tie_out_to_the_county_figures(spark, warehouse, exports):
    """Lines per determination = the run's figures for the county (read here from the figures
    table), and the manifest's row counts."""
    root = warehouse[0]
    figures = Warehouse(str(root)).read(spark, "figures").collect()
    for (county, run_id), (folder, result) in exports.items():
        row = next(f for f in figures if (f["run_id"], f["county"]) == (run_id, county))
        counted = Counter()
        for key, n in json.loads(row["extended_json"])["determinations"].items():
            counted[key.split(" / ")[0]] += n
        exhibit, review = read_csv(folder / EXHIBIT_CSV)[1:], read_csv(folder / REVIEW_CSV)[1:]
        lines = Counter(motion.DISMISSAL if line[8] == "dismiss and seal" else motion.REDUCTION for line in exhibit)
        lines.update(line[8] for line in review)
        assert {d: lines[d] for d in (*motion.GRANTED, *motion.REVIEWED)} == {d: counted[d] for d in (*motion.GRANTED, *motion.REVIEWED)}
        assert result["motion"] == {"by_determination": {d: counted[d] for d in (*motion.GRANTED, *motion.REVIEWED)}, "tied_out": "figures"}
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["files"][EXHIBIT_CSV]["rows"] == manifest["files"][EXHIBIT_HTML]["rows"] == len(exhibit)
        assert manifest["files"][REVIEW_CSV]["rows"] == len(review)


def test_manifest_lists_every_file_with_its_hash(exports):
    for folder, _ in exports.values():
        manifest = json.loads((folder / "manifest.json").read_text())
        on_disk = sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")
        assert sorted(manifest["files"]) == on_disk
        assert {EXHIBIT_CSV, EXHIBIT_HTML, REVIEW_CSV, "impact_report.html"} <= set(manifest["files"])
        report = (folder / "impact_report.html").read_text(encoding="utf-8")
        assert manifest["county"].title() in report and manifest["run_id"] in report  # the county's own report of that run
        for name, entry in manifest["files"].items():
            data = (folder / name).read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data), name


# ---------------------------------------------------------------- the printable page


class Page(HTMLParser):
    """The exhibit table's header cells and body rows, and anything that would load a resource."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.header, self.rows, self.external, self.style = [], [], [], ""
        self._where, self._cell, self._row, self._in_style, self._table = None, None, None, False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed") or any(k in ("src", "href") for k in attrs):
            self.external.append(tag)
        if tag == "style":
            self._in_style = True
        if tag == "table":
            self._table = attrs.get("class")
        if self._table != "exhibit":
            return
        if tag in ("thead", "tbody"):
            self._where = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        if self._table != "exhibit":
            return
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            (self.header if self._where == "thead" else self.rows).append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        elif self._cell is not None:
            self._cell += data


def parse_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def test_html_page_has_the_exhibit_rows_and_prints(exports):
    for folder, result in exports.values():
        page = parse_page(folder / EXHIBIT_HTML)
        exhibit = read_csv(folder / EXHIBIT_CSV)
        assert page.header == [["No.", *exhibit[0]]]
        assert [r[1:] for r in page.rows] == exhibit[1:]
        assert [r[0] for r in page.rows] == [str(i) for i in range(1, len(exhibit))]
        assert page.external == []
        text = (folder / EXHIBIT_HTML).read_text(encoding="utf-8")
        assert "http:" not in text and "https:" not in text and "url(" not in text and "@import" not in text
        assert "@media print" in page.style and "table-header-group" in page.style and "counter(page)" in page.style
        assert text.startswith("<!DOCTYPE html>") and f"{result['county']} County" in text


def test_html_escapes_what_it_prints(spark, tmp_path):
    """Names with markup characters print as text; a one-line exhibit still parses."""
    from test_export import _doj_row, _tables

    name = "O'NEIL <JR> & SONS"
    _tables(spark, tmp_path / "wh", "run-x", "configurable", motion.DISMISSAL, [_doj_row("1", "101001001000", name=name)], [2])
    export_county(spark, str(tmp_path / "wh"), "SACRAMENTO", str(tmp_path / "out"))
    text = (tmp_path / "out" / EXHIBIT_HTML).read_text(encoding="utf-8")
    assert name not in text and "O&#39;NEIL &lt;JR&gt; &amp; SONS" in text
    page = parse_page(tmp_path / "out" / EXHIBIT_HTML)
    assert [r[2] for r in page.rows] == [name] == [line[1] for line in read_csv(tmp_path / "out" / EXHIBIT_CSV)[1:]]


def test_export_refuses_an_exhibit_that_does_not_tie_out(spark, tmp_path):
    """Figures that count another number of dismissals than the tables hold: the export stops,
    names the counts, and leaves no file of its own behind."""
    from test_export import _doj_row, _tables

    rows = [_doj_row("1", "101001001000"), _doj_row("2", "101001001000")]
    _tables(spark, tmp_path / "wh", "run-bad", "configurable", motion.DISMISSAL, rows, [2, 3], counted=3)
    out = tmp_path / "out"
    with pytest.raises(UserError, match=r"does not tie out: Eligible for Dismissal: 2 lines written, 3 in the run's figures"):
        export_county(spark, str(tmp_path / "wh"), "SACRAMENTO", str(out))
    assert sorted(p.name for p in out.iterdir()) == []


# ---------------------------------------------------------------- summary.json: the run's time


def test_summary_time_is_the_runs(spark, warehouse, exports, tmp_path):
    root, first, _ = warehouse
    runs = {r["run_id"]: r for r in Warehouse(str(root)).read(spark, "runs").collect()}
    for (county, run_id), (folder, _) in exports.items():
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["processingTimeInSeconds"] == float(runs[run_id]["seconds"]) > 0
        assert list(summary).index("processingTimeInSeconds") == list(summary).index("lineCount") + 1
    # the same run exported again: the same summary, byte for byte
    again = tmp_path / "again"
    export_county(spark, str(root), "SACRAMENTO", str(again))
    assert (again / "summary.json").read_bytes() == (exports[("SACRAMENTO", first["run_id"])][0] / "summary.json").read_bytes()


# ---------------------------------------------------------------- the audit trail


def _properties(spark, path: Path) -> dict:
    return spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()["properties"]


def test_every_table_keeps_ten_years_of_history(spark, warehouse):
    root = warehouse[0]
    tables = [t for t in TABLES if (root / t / "_delta_log").is_dir()]
    assert {"determinations", "people", "history", "figures", "quarantine", "runs"} <= set(tables)
    for table in tables:
        properties = _properties(spark, root / table)
        assert properties.get("delta.logRetentionDuration") == RETENTION, table
        assert properties.get("delta.deletedFileRetentionDuration") == RETENTION, table
        first = (root / table / "_delta_log" / f"{0:020d}.json").read_text().splitlines()
        configuration = next(json.loads(a)["metaData"]["configuration"] for a in first if '"metaData"' in a)
        assert configuration["delta.logRetentionDuration"] == RETENTION == configuration["delta.deletedFileRetentionDuration"]


DAY_MS = 86_400_000


def _age(root: Path, days: int) -> None:
    """Make the warehouse `days` older: every commit's timestamps (commit, file added, file
    removed) and every file's modification time, as if its runs had been that long ago."""
    back = days * DAY_MS
    stamps = (("commitInfo", "timestamp"), ("commitInfo", "inCommitTimestamp"), ("add", "modificationTime"),
              ("remove", "deletionTimestamp"))
    for log in root.glob("*/_delta_log/*.json"):
        actions = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
        for action in actions:
            for kind, field in stamps:
                if action.get(kind, {}).get(field):
                    action[kind][field] -= back
        log.write_text("".join(json.dumps(a) + "\n" for a in actions), encoding="utf-8")
        (log.parent / f".{log.name}.crc").unlink(missing_ok=True)  # Hadoop's checksum of the old text
    for path in root.rglob("*"):
        if path.is_file():
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns - back * 1_000_000, stat.st_mtime_ns - back * 1_000_000))


MAINTENANCE = {
    "spark.databricks.delta.vacuum.logging.enabled": "false",  # no commits of its own: the last version stays the aged one
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",  # list a small table with a few tasks, not 10,000
}


def _vacuum_and_clean_logs(spark, root: Path, tables) -> None:
    """What maintenance with each table's own settings does: VACUUM with the default retention,
    then a checkpoint and the expired-log clean-up Delta runs after it (which removes the log
    entries older than the log retention that the checkpoint makes unnecessary)."""
    from delta.tables import DeltaTable

    jvm = spark._jvm
    delta_log = jvm.org.apache.spark.sql.delta.DeltaLog
    none = jvm.scala.Option.empty()
    delta_log.clearCache()  # forget the snapshots read before the warehouse was aged
    for key, value in MAINTENANCE.items():
        spark.conf.set(key, value)
    try:
        for table in tables:
            path = str(root / table)
            DeltaTable.forPath(spark, path).vacuum()
            log = delta_log.forTable(spark._jsparkSession, path)
            log.checkpointAndCleanUpDeltaLog(log.update(False, none, none), none)
    finally:
        for key in MAINTENANCE:
            spark.conf.unset(key)
        delta_log.clearCache()


def test_an_old_run_exports_the_same_after_vacuum_and_log_clean_up(spark, warehouse, exports, tmp_path, capsys, monkeypatch):
    """Two runs of Los Angeles; a year later, VACUUM and the log clean-up with the tables' own
    settings: `export --run <the first>` still reads the versions it recorded, and writes the same
    files as before. With Delta's default retention the same maintenance loses that run."""
    import jobs.export
    from jobs import cli

    root, first, _ = warehouse
    before_folder, before = exports[("LOS ANGELES", first["run_id"])]
    kept, control = tmp_path / "kept", tmp_path / "control"
    shutil.copytree(root, kept)
    shutil.copytree(root, control)
    for table in ("determinations",):  # the control: Delta's defaults (30 days of log, 7 of files)
        spark.sql(f"ALTER TABLE delta.`{control / table}` SET TBLPROPERTIES ('delta.logRetentionDuration' = 'interval 30 days', "
                  "'delta.deletedFileRetentionDuration' = 'interval 7 days')")
    for where in (kept, control):
        _age(where, 400)
    tables = [t for t in TABLES if (kept / t / "_delta_log").is_dir()]
    _vacuum_and_clean_logs(spark, kept, tables)
    _vacuum_and_clean_logs(spark, control, ["determinations"])
    assert not (control / "determinations" / "_delta_log" / f"{0:020d}.json").exists()  # the clean-up did run

    monkeypatch.setattr(jobs.export, "get_spark", lambda *a, **k: spark)
    out = tmp_path / "after"
    assert cli.main(["export", "--warehouse", str(kept), "--county", "Los Angeles", "--out", str(out), "--run", first["run_id"]]) == 0
    printed = capsys.readouterr().out
    read = ", ".join(f"{t} v{v}" for t, v in before["versions"].items())
    assert f"versions read: {read}" in printed and before["versions"]["determinations"] < Warehouse(str(kept)).latest_version("determinations")
    assert (kept / "determinations" / "_delta_log" / f"{0:020d}.json").exists()
    files = sorted(p.name for p in before_folder.iterdir())
    assert sorted(p.name for p in out.iterdir()) == files and len(files) == 9  # with impact_report.html
    for name in files:
        assert (out / name).read_bytes() == (before_folder / name).read_bytes(), name

    with pytest.raises(UserError, match="cannot read the LOS ANGELES determinations"):
        export_county(spark, str(control), "LOS ANGELES", str(tmp_path / "lost"), first["run_id"])
