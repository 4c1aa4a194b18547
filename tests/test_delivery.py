"""The statewide delivery (`export` without --county, `run --export`): every county's packet from
one Spark write, byte for byte the files each county's own export gives, whole folders or none,
DELIVERY.json last, a county that does not tie out refused by name, and each packet holding
only its county's people.

One generated warehouse for the module: a run of Los Angeles (la-2020), Sacramento and Fresno
(statutory) and Alpine (no decisions in the sample) under the default policy map."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from clearsweep.exports import lines, motion
from clearsweep.exports.county import export_county
from clearsweep.exports.delivery import deliver, plan, write_rows
from clearsweep.exports.staging import DELIVERY_FILE
from clearsweep.paths import REPO_ROOT
from clearsweep.schema import DOJ_COLUMNS
from clearsweep.sweep import run_job

AS_OF = dt.date(2019, 11, 11)
COUNTIES = ["ALPINE", "FRESNO", "LOS ANGELES", "SACRAMENTO"]
CLI = str(REPO_ROOT / ".venv" / "bin" / "clearsweep")


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory):
    from jobs.cli import main as cli

    sample = tmp_path_factory.mktemp("sample")
    assert cli(["generate", "--rows", "6000", "--seed", "7", "--out", str(sample)]) == 0
    root = tmp_path_factory.mktemp("wh")
    run = run_job(spark, [str(sample)], str(root), AS_OF, COUNTIES, None)
    return root, run


@pytest.fixture(scope="module")
def delivered(spark, warehouse, tmp_path_factory):
    root, run = warehouse
    out = tmp_path_factory.mktemp("delivery")
    return out, deliver(spark, str(root), str(out))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_delivery_is_every_countys_own_export_byte_for_byte(spark, warehouse, delivered, tmp_path):
    root, run = warehouse
    out, result = delivered
    assert result["run_id"] == run["run_id"] and sorted(result["counties"]) == COUNTIES and not result["refused"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*COUNTIES, DELIVERY_FILE])  # no staging left behind
    policies = {c: r["policy"] for c, r in result["counties"].items()}
    assert policies["LOS ANGELES"] == "la-2020" and policies["FRESNO"] == policies["SACRAMENTO"] == "statutory"
    assert result["counties"]["ALPINE"]["decided"] == 0 and result["counties"]["LOS ANGELES"]["decided"] > 0
    for county in COUNTIES:
        alone = tmp_path / county
        export_county(spark, str(root), county, str(alone))
        delivered_files, own = _files(out / county), _files(alone)
        assert sorted(delivered_files) == sorted(own) and {*lines.FILES, "manifest.json"} <= set(own), county
        assert delivered_files["manifest.json"] == own["manifest.json"], county  # every file's hash, in one
        for name in own:
            assert delivered_files[name] == own[name], (county, name)
    # a county with no decisions: every file, header (or page) only
    alpine = json.loads((out / "ALPINE" / "manifest.json").read_text())
    assert alpine["county"] == "ALPINE" and {f["rows"] for f in alpine["files"].values() if "rows" in f} == {0}
    # the Los Angeles 2020 flow's files leave out "Occurred after 11/9/2016"; the statutory counties' keep it
    assert "Occurred after 11/9/2016" not in (out / "LOS ANGELES" / "All_Results.csv").read_text().splitlines()[0]
    assert "Occurred after 11/9/2016" in (out / "FRESNO" / "All_Results.csv").read_text().splitlines()[0]


def test_delivery_json_is_written_last_and_names_each_manifest(warehouse, delivered):
    out, result = delivered
    record = json.loads((out / DELIVERY_FILE).read_text())
    assert record["run_id"] == result["run_id"] and record["versions"] == result["versions"]
    assert sorted(record["counties"]) == COUNTIES
    for county, entry in record["counties"].items():
        manifest = out / county / "manifest.json"
        assert entry["manifest_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
        files = json.loads(manifest.read_text())["files"]
        assert entry["rows"] == {n: f["rows"] for n, f in files.items() if "rows" in f}
        lines_in = {n: len((out / county / n).read_text(encoding="utf-8").splitlines()) for n in ("All_Results.csv", "review_list.csv")}
        assert lines_in == {n: entry["rows"][n] + 1 for n in lines_in}  # header + rows (no field holds a line break here)
    assert (out / DELIVERY_FILE).stat().st_mtime_ns >= max((out / c / "manifest.json").stat().st_mtime_ns for c in COUNTIES)


def test_counts_tie_out_to_the_run_figures(spark, warehouse, delivered):
    from clearsweep.outputs.warehouse import Warehouse

    root, run = warehouse
    out, result = delivered
    figures = {r["county"]: json.loads(r["extended_json"]) for r in Warehouse(str(root)).read(spark, "figures").collect()}
    for county in COUNTIES:
        counted = {d: 0 for d in (*motion.GRANTED, *motion.REVIEWED)}
        for key, n in figures[county]["determinations"].items():
            if key.split(" / ")[0] in counted:
                counted[key.split(" / ")[0]] += n
        assert result["counties"][county]["motion"] == {"by_determination": counted, "tied_out": "figures"}, county


def test_a_rerun_keeps_what_is_delivered_and_finishes_the_rest(spark, warehouse, delivered, tmp_path):
    """A killed delivery leaves at most whole county folders and a staging folder: the next one
    removes the staging folder, keeps the counties already delivered from the same run, writes
    the others and DELIVERY.json."""
    root, _ = warehouse
    out = tmp_path / "again"
    shutil.copytree(delivered[0], out)
    (out / DELIVERY_FILE).unlink()
    shutil.rmtree(out / "FRESNO")
    (out / ".delivery-dead" / "rows").mkdir(parents=True)  # what a killed delivery leaves
    (out / ".delivery-dead" / "rows" / "part-00000.txt").write_text("half")
    result = deliver(spark, str(root), str(out))
    assert result["kept"] == ["ALPINE", "LOS ANGELES", "SACRAMENTO"] and list(result["counties"]) == ["FRESNO"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*COUNTIES, DELIVERY_FILE])
    assert (out / DELIVERY_FILE).read_bytes() == (delivered[0] / DELIVERY_FILE).read_bytes()
    assert _files(out / "FRESNO") == _files(delivered[0] / "FRESNO")


def _parts(rows_dir: Path, c: int) -> dict[int, bytes]:
    from clearsweep.exports.staging import part_file

    return {f: part_file(rows_dir, c, f).read_bytes() for f in range(len(lines.FILES))}


def test_a_county_without_rows_is_written_by_the_driver_as_spark_writes_it(spark, warehouse, tmp_path):
    """Alpine (no decisions, no history rows): its files come from the driver, with no Spark job,
    byte for byte what Spark's write of its heads gives; and a small county's lines are the same
    bytes whether its plan is compiled (whole-stage code generation) or not."""
    from clearsweep.outputs.warehouse import Warehouse

    root, _ = warehouse
    wh = Warehouse(str(root))
    p = plan(spark, str(root), ["ALPINE", "FRESNO"])
    assert p.empty == {"ALPINE"} and p.few
    sc = spark.sparkContext
    sc.setJobGroup("heads-only", "a delivery of a county without rows")
    try:
        _, by_driver = write_rows(spark, p, ["ALPINE"], tmp_path / "driver", wh)
        assert sc.statusTracker().getJobIdsForGroup("heads-only") == []
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    p.empty = set()
    _, by_spark = write_rows(spark, p, ["ALPINE"], tmp_path / "spark", wh)
    assert sorted(by_driver, key=str) == sorted((r.asDict() for r in by_spark), key=str)
    assert _parts(tmp_path / "driver", 0) == _parts(tmp_path / "spark", 0)
    assert _parts(tmp_path / "spark", 0)[lines.F_EXHIBIT].startswith(b"CII Number,")  # the header is there
    _, interpreted = write_rows(spark, p, ["FRESNO"], tmp_path / "interpreted", wh)
    p.few = False
    _, compiled = write_rows(spark, p, ["FRESNO"], tmp_path / "compiled", wh)
    assert sorted(map(str, interpreted)) == sorted(map(str, compiled))
    assert _parts(tmp_path / "interpreted", 0) == _parts(tmp_path / "compiled", 0)
    assert len(_parts(tmp_path / "compiled", 0)[lines.F_ALL].splitlines()) > 1  # FRESNO has rows


def test_killed_delivery_leaves_whole_folders_and_a_rerun_finishes(warehouse, tmp_path):
    """`export` killed (SIGKILL) while it writes: every county folder there is complete (its
    manifest's hashes hold), DELIVERY.json is absent; the same command again completes it."""
    root, _ = warehouse
    out = tmp_path / "killed"
    env = {**os.environ, "CLEARSWEEP_LOG_DIR": str(tmp_path / "logs")}
    cmd = [CLI, "export", "--warehouse", str(root), "--out", str(out), "--quiet", "--conf", "spark.driver.memory=1g"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any((s / "rows").exists() for s in out.glob(".delivery-*")):
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert not (out / DELIVERY_FILE).exists() or proc.returncode == 0
    for folder in (p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = json.loads((folder / "manifest.json").read_text())
        for name, entry in manifest["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"], (folder.name, name)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted([*COUNTIES, DELIVERY_FILE])
    assert not list(out.glob(".delivery-*"))
    shared = [f"{p} {p.stat().st_mode:o}" for p in out.rglob("*") if p.stat().st_mode & 0o077]
    assert shared == []  # owner-only, as every command writes


def test_a_county_that_does_not_tie_out_is_not_published(spark, tmp_path, capsys, monkeypatch):
    """Figures counting another number of dismissals than the tables hold: that county's packet
    is not written, the command names it and exits 1, and no DELIVERY.json is written."""
    import jobs.export
    from jobs import cli
    from test_export import _doj_row, _tables

    rows = [_doj_row("1", "101001001000"), _doj_row("2", "101001001000")]
    _tables(spark, tmp_path / "wh", "run-bad", "configurable", motion.DISMISSAL, rows, [2, 3], counted=3)
    monkeypatch.setattr(jobs.export, "get_spark", lambda *a, **k: spark)
    out = tmp_path / "out"
    assert cli.main(["export", "--warehouse", str(tmp_path / "wh"), "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "SACRAMENTO not written" in printed.err and "does not tie out" in printed.err and "DOE" not in printed.err + printed.out
    assert sorted(p.name for p in out.iterdir()) == []


def test_progress_says_counties_written_and_left_unless_quiet(spark, warehouse, tmp_path, capsys, monkeypatch):
    import jobs.export
    from jobs import cli

    root, _ = warehouse
    monkeypatch.setattr(jobs.export, "get_spark", lambda *a, **k: spark)
    args = ["export", "--warehouse", str(root), "--county", "alpine", "--county", "Fresno"]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr()
    assert "2 of 2 counties written, 0 left" in printed.err and "1 of 2 counties written, 1 left" in printed.err
    assert "2 county packets written" in printed.out
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["ALPINE", DELIVERY_FILE, "FRESNO"]
    assert cli.main([*args, "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_each_packet_holds_only_its_countys_people(spark, tmp_path):
    """Two people with unique names, one decided in Sacramento, one in Fresno: each name is in its
    own county's packet only."""
    canary = {"SACRAMENTO": ("QUILLFEATHER,ZENOBIA", "A90817263"), "FRESNO": ("MARROWGLEN,OSWIN", "A55501234")}
    path = tmp_path / "in" / "extract.csv"
    path.parent.mkdir()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DOJ_COLUMNS)
        for i, (county, (name, cii)) in enumerate(canary.items()):
            row = {c: "" for c in DOJ_COLUMNS} | {
                "SUBJECT_ID": f"1000000{i}", "CNT_ORDER": "001001001000", "STP_EVENT_DATE": "20100105",
                "STP_TYPE_DESCR": "COURT ACTION", "STP_ORI_CNTY_NAME": county, "STP_ORI_DESCR": f"CASC {county}",
                "DISP_DESCR": "CONVICTED", "OFFENSE_DESCR": "11357(A) HS-POSSESS MARIJUANA", "CONV_STAT_DESCR": "MISDEMEANOR",
                "OFN": f"10CR00{i}", "PRI_NAME": name, "CII_NUMBER": cii, "PRI_DOB": "19700101", "RACE_DESCR": "WHITE"}
            w.writerow([row[c] for c in DOJ_COLUMNS])
    run_job(spark, [str(path)], str(tmp_path / "wh"), AS_OF, ["FRESNO", "SACRAMENTO", "YOLO"], "statutory")
    out = tmp_path / "out"
    result = deliver(spark, str(tmp_path / "wh"), str(out))
    assert {c: r["decided"] for c, r in result["counties"].items()} == {"FRESNO": 1, "SACRAMENTO": 1, "YOLO": 0}
    for county in result["counties"]:
        text = b"".join(p.read_bytes() for p in (out / county).iterdir())
        for owner, needles in canary.items():
            found = [n for n in needles if n.encode() in text]
            assert found == (list(needles) if owner == county else []), (county, owner)
    assert not [n for needles in canary.values() for n in needles if n in (out / DELIVERY_FILE).read_text()]


# ---------------------------------------------------------------- the lines, as Spark makes them


def test_html_rows_are_the_templates_row(spark):
    """Spark's exhibit row (escaping, date cells) is what the page template's `row` macro writes."""
    from pyspark.sql import functions as F

    cells = ["A1", "O'NEIL <JR> & \"SONS\"", "01/05/1970", "C 1", "CASC X & Y", "11357(A) HS", "", "Felony", "dismiss and seal", "HS 11361.8"]
    df = spark.createDataFrame([tuple(cells)], ", ".join(f"c{i} string" for i in range(len(cells))))
    got = df.select(lines.html_cells([F.col(f"c{i}") for i in range(len(cells))]).alias("x")).first()["x"]
    assert '<tr><td class="number">7' + got + "\n" == motion.page().row(number=7, cells=cells)


def test_court_order_is_total_and_the_same_however_split(spark):
    """Court, case number, disposition date (undated last), CII, then input position: ties at
    every level are broken, and each file's lines are numbered in the same order whatever the
    number of partitions."""
    import random

    from pyspark.sql import functions as F

    from clearsweep.decide.facts import FACT_COLUMNS

    keys = [("CASC SAN DIEGO", "B2", "2001-01-01", "3"), ("CASC FRESNO", "Z9", "1990-05-05", "9"),
            ("CASC SAN DIEGO", "A1", None, "1"), ("CASC SAN DIEGO", "A1", "1999-12-31", "2"),
            ("CASC SAN DIEGO", "A1", "1999-12-31", "1"), ("  CASC FRESNO", "Z9", "1990-05-05", "1"),
            ("CASC SAN DIEGO", "A1", "1999-12-31", "1"), ("CASO SAN DIEGO", "", "2005-01-01", "4"),
            (None, "C3", "2005-01-01", "5"), ("CASC SAN DIEGO", "A1", "1998-01-01", "7")]
    kinds = [motion.DISMISSAL, motion.REDUCTION, motion.HAND_REVIEW]
    det_cols = ["county", *lines.DETERMINATION_COLUMNS, "policy"]
    det_rows, hist_rows = [], []
    for i, (court, case, date, cii) in enumerate(keys):
        det = {c: None for c in det_cols} | {"county": "SACRAMENTO", "file_index": 0, "line_no": 100 + i, "determination": kinds[i % 3],
                                             "reason": "r", "statute": "s", "code_section": "11357 HS", "case_number": case,
                                             "felony": i % 2 == 0, "disposition_date": dt.date.fromisoformat(date) if date else None,
                                             "run_id": "run-1"}
        det_rows.append(tuple(det[c] for c in det_cols))
        hist = {c: None for c in DOJ_COLUMNS} | {"CII_NUMBER": cii, "PRI_NAME": f"NAME {i}", "PRI_DOB": "19700101",
                                                 "STP_ORI_DESCR": court, "STP_EVENT_DATE": (date or "0").replace("-", "")}
        hist_rows.append(("SACRAMENTO", *[hist[c] for c in DOJ_COLUMNS], 0, 100 + i, "", "run-1"))
    random.Random(5).shuffle(det_rows)
    types = {"file_index": "int", "line_no": "long", "felony": "boolean", "disposition_date": "date"}
    det = spark.createDataFrame(det_rows, ", ".join(f"`{c}` {types.get(c, 'string')}" for c in det_cols))
    hist = spark.createDataFrame(hist_rows, ", ".join(["county string", *[f"`{c}` string" for c in DOJ_COLUMNS],
                                                       "file_index int", "line_no long", "possible_other_p64 string", "run_id string"]))

    def order(partitions: int) -> list[str]:
        spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
        try:
            frame = lines.packet_lines(spark, lines.county_rows(det, hist.repartition(partitions)),
                                       {tuple(FACT_COLUMNS): ["SACRAMENTO"]}, {"SACRAMENTO": (list(FACT_COLUMNS), "head", "foot")},
                                       {"SACRAMENTO": 0})
            got = frame.where(F.col("f").isin(lines.F_EXHIBIT, lines.F_REVIEW) & (F.col("part") == lines.BODY)).collect()
        finally:
            spark.conf.set("spark.sql.shuffle.partitions", "4")
        return [next(x for x in r["line"].split(",") if x.startswith("NAME"))
                for r in sorted(got, key=lambda r: (r["f"] == lines.F_REVIEW, r["n"]))]

    def key(i: int):
        court, case, date, cii = keys[i]
        return (kinds[i % 3] == motion.HAND_REVIEW, (court or "").strip(), case, date is None, date or "", cii, 100 + i)

    expected = [f"NAME {i}" for i in sorted(range(len(keys)), key=key)]
    one = order(1)
    assert one == expected
    assert order(3) == one and order(8) == one


def test_run_export_delivers_in_the_runs_session(spark, fixtures_dir, tmp_path, capsys, monkeypatch):
    """`run --export DIR`: once the run is recorded, its counties' packets and DELIVERY.json."""
    import jobs.run
    from jobs import cli

    monkeypatch.setattr(jobs.run, "get_spark", lambda *a, **k: spark)
    case = fixtures_dir / "peer-configurable-sacramento"
    out = tmp_path / "packets"
    code = cli.main(["run", "--input", str(case / "input.csv"), "--warehouse", str(tmp_path / "wh"), "--as-of", "2019-11-11",
                     "--county", "Sacramento", "--policy", str(case / "eligibility_options.json"), "--export", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    record = json.loads((out / DELIVERY_FILE).read_text())
    assert list(record["counties"]) == ["SACRAMENTO"] and record["run_id"] in printed.out
    assert json.loads((out / "SACRAMENTO" / "manifest.json").read_text())["run_id"] == record["run_id"]
    assert printed.err == ""


def test_help_says_what_each_command_does_not_which_module():
    from jobs import cli

    for command in cli.SUBCOMMANDS:
        parser = cli.build_parser(command)
        sub = next(a for a in parser._actions if a.dest == "command").choices[command]
        text = sub.format_help()
        assert "clearsweep." not in text and "jobs." not in text, command
        assert len(sub.description or "") > 80, command
