"""A damaged warehouse is named before anything is written: every command checks the tables'
logs first (exit 1, one line naming the table, the version and the repair), and `check` reports
each finding (damaged commit JSON, a missing data file, an unreadable checkpoint, a
`_last_checkpoint` naming no checkpoint) without writing."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from clearsweep.outputs.warehouse import Warehouse
from clearsweep.sweep import run_job
from jobs.cli import main as cli
from test_input_kinds import HEADER, line


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("check")
    (root / "a.csv").write_text(HEADER + "\n" + line(STP_ORI_CNTY_NAME="YOLO", DISP_DESCR="CONVICTED", OFFENSE_DESCR="11357(A) HS",
                                                     STP_EVENT_DATE="20100105") + "\n")
    run_job(spark, [str(root / "a.csv")], str(root / "wh"), dt.date(2019, 11, 11), ["YOLO"], None)
    return root


@pytest.fixture
def wh(built, tmp_path):
    shutil.copytree(built / "wh", tmp_path / "wh")
    return tmp_path / "wh"


def _newest(table):
    return sorted((table / "_delta_log").glob("*.json"))[-1]


def _versions(wh) -> dict:
    return {t.name: len(list((t / "_delta_log").glob("*.json"))) for t in wh.iterdir() if (t / "_delta_log").is_dir()}


def test_a_clean_warehouse_checks_clean(wh, capsys):
    assert cli(["check", "--warehouse", str(wh)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].endswith("clean")


def test_a_commit_cut_in_half_is_named_before_any_write(wh, built, capsys):
    newest = _newest(wh / "determinations")
    text = newest.read_text()
    newest.write_text(text[: len(text) // 2])
    version = int(newest.name[:20])
    before = _versions(wh)
    assert cli(["check", "--warehouse", str(wh)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith(f"table determinations: version {version} is damaged") and "move it out of _delta_log" in out[0]
    for command in (["export", "--county", "YOLO", "--out", str(wh.parent / "out")],
                    ["run", "--input", str(built / "a.csv"), "--as-of", "2019-11-11", "--county", "YOLO", "--quiet"],
                    ["runs"], ["ingest", "--input", str(built / "a.csv"), "--quiet"]):
        assert cli([command[0], "--warehouse", str(wh), *command[1:]]) == 1, command
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"table determinations: version {version} is damaged" in err, err
    assert _versions(wh) == before and not (wh.parent / "out").exists()


def test_a_missing_data_file_is_found(wh, capsys):
    data = sorted((wh / "people").rglob("*.parquet"))[0]
    data.unlink()
    assert cli(["check", "--warehouse", str(wh)]) == 1
    out = capsys.readouterr().out
    assert f"table people: version {len(list((wh / 'people' / '_delta_log').glob('*.json'))) - 1} holds data file" in out
    assert data.name in out and "missing" in out


def test_checkpoint_damage_is_found(wh, capsys):
    log = wh / "runs" / "_delta_log"
    (log / "_last_checkpoint").write_text('{"version": 0, "size": 3}')
    assert cli(["check", "--warehouse", str(wh)]) == 1
    assert "table runs: _delta_log/_last_checkpoint names the checkpoint of version 0, which is missing" in capsys.readouterr().out
    (log / "00000000000000000000.checkpoint.parquet").write_bytes(b"not parquet")
    assert cli(["check", "--warehouse", str(wh)]) == 1
    assert "table runs: the checkpoint of version 0 cannot be read" in capsys.readouterr().out
    assert sorted(p.name for p in log.iterdir() if p.suffix == ".json") == ["00000000000000000000.json"]  # nothing written
