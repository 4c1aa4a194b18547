"""`run --since`: an incremental run gives the same tables as a full run on the same raw table,
policy and as-of date (per-county checksums of determinations, people and history; equal
figures), whatever changed in the month, and counts the people it decided again per reason.

One month (one pair of runs) carries every kind of change at once, each on its own person: a
new person, a new conviction in the same county and in another, an altered disposition, a
removed row, a person whose rows all went, a person purged between the runs, a policy change for
one county (YOLO), and the month's thresholds (the generator puts people at age 50 and 10 years
since a conviction on the new as-of date: Los Angeles decides under la-2020)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import people_gen
from harness import _write_csv_files
from clearsweep.decide.engine import candidates
from clearsweep.decide.policy_files import load_policy_map
from clearsweep.errors import UserError
from clearsweep.history import person_key, row_county
from clearsweep.incremental import _at_as_of, run_since
from clearsweep.ingest.load import ingest
from clearsweep.outputs.checksum import county_checksums
from clearsweep.outputs.layout import COUNTY_TABLES
from clearsweep.outputs.purge import purge
from clearsweep.outputs.warehouse import Warehouse
from clearsweep.sweep import run_job

AS_OF, BASE_AS_OF = dt.date(2020, 6, 15), dt.date(2020, 5, 15)
COUNTIES = sorted(people_gen.COUNTIES)
NEW_ID = "123456789"  # the generator's ids have at most 8 digits


def _p64_conviction(r: dict) -> bool:
    return r["DISP_DESCR"].startswith("CONVICTED") and "113" in r["OFFENSE_DESCR"] and r["OFFENSE_DESCR"].strip()[:1] == "1"


def _by_person(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["SUBJECT_ID"], []).append(r)
    return out


def _pick(people: dict, taken: set, test) -> str:
    for sid in sorted(people):
        rows = people[sid]
        if sid not in taken and all(r["STP_ORI_CNTY_NAME"] != "YOLO" for r in rows) and test(rows):
            taken.add(sid)
            return sid
    raise AssertionError("the generated sample has no such person")


def _renamed(row: dict, new_id: str) -> dict:
    """`row` as another person's: the generator writes the id into the name and CII too, and
    another person's id left in a name is a trace a purge of that person would find."""
    return {k: v.replace(row["SUBJECT_ID"], new_id) if isinstance(v, str) else v for k, v in row.items()}


def _write(folder: Path, rows: list[dict]) -> str:
    folder.mkdir(parents=True)
    _write_csv_files([{**r, "row_index": i} for i, r in enumerate(rows)], folder, 1)
    return str(folder)


def _month(tmp: Path) -> dict:
    """The two months' files and who changed how."""
    rows = [dict(r) for r in people_gen.generate(90, seed=17, as_of=AS_OF)]
    people = _by_person(rows)
    taken: set = set()
    same = _pick(people, taken, lambda rs: any(_p64_conviction(r) and r["STP_ORI_CNTY_NAME"] == "LOS ANGELES" for r in rs))
    other = _pick(people, taken, lambda rs: any(_p64_conviction(r) and r["STP_ORI_CNTY_NAME"] == "SACRAMENTO" for r in rs))
    disp = _pick(people, taken, lambda rs: sum(_p64_conviction(r) for r in rs) >= 2)
    drop = _pick(people, taken, lambda rs: any(_p64_conviction(r) for r in rs) and any("113" not in r["OFFENSE_DESCR"] + r["COMMENT_TEXT"] for r in rs))
    gone = _pick(people, taken, lambda rs: any(_p64_conviction(r) for r in rs))
    purged = _pick(people, taken, lambda rs: any(_p64_conviction(r) for r in rs))
    dropped_row = next(r for r in people[drop] if "113" not in r["OFFENSE_DESCR"] + r["COMMENT_TEXT"])
    tail = [dropped_row, *people[gone], *people[purged]]  # last in month 1: month 2 ends where they were
    body = [r for r in rows if not any(r is t for t in tail)]
    first = _write(tmp / "m1", body + tail)
    body2 = [dict(r) for r in body]
    changed = next(r for r in body2 if r["SUBJECT_ID"] == disp and _p64_conviction(r))
    changed["DISP_DESCR"] = "DISMISSED"
    new_same = {**next(r for r in people[same] if _p64_conviction(r) and r["STP_ORI_CNTY_NAME"] == "LOS ANGELES"),
                "CYC_ORDER": "099", "CNT_ORDER": "099001001000", "DISP_DATE": "20200601", "CYC_DATE": "20200601"}
    new_other = {**next(r for r in people[other] if _p64_conviction(r) and r["STP_ORI_CNTY_NAME"] == "SACRAMENTO"),
                 "STP_ORI_CNTY_NAME": "SAN JOAQUIN", "CYC_ORDER": "098", "CNT_ORDER": "098001001000"}
    newcomer = [{**_renamed(r, NEW_ID), "STP_ORI_CNTY_NAME": "SACRAMENTO"} for r in people[same]]
    rows2 = body2 + [new_same, new_other] + newcomer
    second = _write(tmp / "m2", rows2)
    return {"m1": first, "m2": second, "rows": {same, other, disp, drop, NEW_ID}, "gone": gone, "purged": purged, "rows2": rows2}


def mutate(rows: list[dict], seed: int) -> list[dict]:
    """A random next month: rows dropped, fields altered (disposition, its date, the offense, the
    county), rows of a person added anywhere, a new person; positions move as they fall."""
    rng = random.Random(seed)
    out = [dict(r) for r in rows if rng.random() > 0.03]
    for r in rng.sample(out, k=max(1, len(out) // 30)):
        field = rng.choice(("DISP_DESCR", "DISP_DATE", "OFFENSE_DESCR", "STP_ORI_CNTY_NAME"))
        r[field] = {"DISP_DESCR": lambda: rng.choice(("CONVICTED-JAIL", "DISMISSED", "")),
                    "DISP_DATE": lambda: f"20{rng.randint(5, 20):02d}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
                    "OFFENSE_DESCR": lambda: rng.choice(people_gen.PROP64_TEXTS + people_gen.OTHER_TEXTS),
                    "STP_ORI_CNTY_NAME": lambda: rng.choice(people_gen.COUNTIES)}[field]()
    for r in rng.sample(out, k=3):
        out.insert(rng.randrange(len(out) + 1), {**r, "CNT_ORDER": f"{rng.randint(100, 999)}001001000"})
    newcomer = str(200_000_000 + seed)
    out += [_renamed(r, newcomer) for r in people_gen.generate(1, seed=seed)]
    return out


@pytest.fixture(scope="module")
def month(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incremental")
    m = _month(tmp)
    yolo = tmp / "policy.yaml"
    yolo.write_text(Path("conf/policy_map.yaml").read_text() + "  YOLO:\n    policy: dismiss-all\n")
    base_map, new_map = load_policy_map(None, COUNTIES), load_policy_map(str(yolo), COUNTIES)
    inc, full = str(tmp / "inc"), str(tmp / "full")
    ingest(spark, [m["m1"]], inc)
    base = run_job(spark, [inc + "/raw"], inc, BASE_AS_OF, policy=base_map)
    purge(spark, inc, [m["purged"]], "sealed")
    ingest(spark, [m["m2"]], inc)
    record = Warehouse.record

    def killed(self, spark, table, row):  # the run dies after its four table commits, before its runs row
        if table == "runs":
            raise RuntimeError("killed")
        return record(self, spark, table, row)

    Warehouse.record = killed
    try:
        with pytest.raises(RuntimeError, match="killed"):
            run_since(spark, [inc + "/raw"], inc, AS_OF, new_map, base["run_id"])
    finally:
        Warehouse.record = record
    result = run_since(spark, [inc + "/raw"], inc, AS_OF, new_map, base["run_id"])
    reference = run_job(spark, [inc + "/raw"], full, AS_OF, policy=new_map)  # the same raw table, decided in full
    return {**m, "inc": inc, "full": full, "base": base, "result": result, "reference": reference, "map": new_map}


def _tables(spark, warehouse: str, run: dict) -> dict:
    wh = Warehouse(warehouse)
    return {t: county_checksums(wh.read(spark, t, run["versions"][t]).where(F.col("county").isin(*COUNTIES)), COUNTIES)
            for t in COUNTY_TABLES}


def _figures(spark, warehouse: str, run_id: str) -> dict:
    rows = Warehouse(warehouse).read(spark, "figures").where(F.col("run_id") == run_id).collect()
    return {r["county"]: (json.loads(r["summary_json"]), json.loads(r["extended_json"])) for r in rows}


def test_an_incremental_run_equals_a_full_run(spark, month):
    result, reference = month["result"], month["reference"]
    assert result["kind"] == "incremental" and result["base_run_id"] == month["base"]["run_id"]
    assert _tables(spark, month["inc"], result) == _tables(spark, month["full"], reference)
    assert _figures(spark, month["inc"], result["run_id"]) == _figures(spark, month["full"], reference["run_id"])
    inc_dets = Warehouse(month["inc"]).read(spark, "determinations", result["versions"]["determinations"])
    assert inc_dets.where(F.col("subject_id").isin(month["purged"], month["gone"])).count() == 0  # purged stays purged


def test_a_killed_incremental_run_is_rolled_back_by_the_next(month):
    recovered = " | ".join(month["result"]["recovered"])
    for table in ("determinations", "people", "history", "figures"):  # history's MERGE commit too
        assert f"rolled {table} back to version" in recovered, recovered


def test_the_people_decided_again_are_counted_by_reason(spark, month):
    counts = json.loads(month["result"]["redecided"])
    version = json.loads(month["result"]["inputs"])[0]["version"]  # the raw table the run read
    raw = Warehouse(month["inc"]).read(spark, "raw", version).where(F.col("reason_code").isNull())
    cands = candidates(raw, month["map"]).select(person_key(F.col("SUBJECT_ID")).alias("p"), row_county().alias("c"))
    everyone = cands.select("p").distinct().count()
    in_yolo = cands.where(F.col("c") == "YOLO").select("p").distinct().count()
    assert counts["policy"] == in_yolo > 0
    decided = Warehouse(month["full"]).read(spark, "history").select(person_key(F.col("SUBJECT_ID"))).distinct().count()
    # the people changed, and the candidates the base decided no conviction of (not in its history: read again)
    assert len(month["rows"]) <= counts["rows"] <= len(month["rows"]) + everyone - decided
    assert counts["removed"] == 1  # the person whose rows all went; the purged one was gone already
    if _at_as_of() is None:  # no stable_until: every carried person is decided again, by time
        assert counts["rows"] + counts["time"] + counts["policy"] == everyone
    else:  # the generator puts people on the new as-of date's thresholds
        assert 0 < counts["time"] < everyone - counts["rows"] - counts["policy"]


@pytest.mark.parametrize("seed", [3])  # one random month here; scripts/bench --monthly checks more at size
def test_random_months_equal_a_full_run(spark, month, seed, tmp_path):
    """Month after month (each seed builds on the run before): random changes, the same tables."""
    rows = mutate(month.pop("rows2"), seed) if "rows2" in month else mutate(month["rows_next"], seed)
    month["rows_next"] = rows
    ingest(spark, [_write(tmp_path / "m", rows)], month["inc"])
    since = month.get("latest", month["result"])
    result = run_since(spark, [month["inc"] + "/raw"], month["inc"], AS_OF + dt.timedelta(days=31 * seed), month["map"], since["run_id"])
    reference = run_job(spark, [month["inc"] + "/raw"], month["full"], result["as_of"], policy=month["map"])
    month["latest"] = result
    assert _tables(spark, month["inc"], result) == _tables(spark, month["full"], reference)
    assert _figures(spark, month["inc"], result["run_id"]) == _figures(spark, month["full"], reference["run_id"])


def test_a_base_that_is_not_the_latest_run_is_refused(spark, month):
    with pytest.raises(UserError, match="later run decided"):
        run_since(spark, [month["inc"] + "/raw"], month["inc"], AS_OF, month["map"], month["base"]["run_id"])
    with pytest.raises(UserError, match="no such run"):
        run_since(spark, [month["inc"] + "/raw"], month["inc"], AS_OF, month["map"], "run-nope")


def test_since_without_the_warehouse_raw_table_is_one_line(tmp_path, capsys):
    from jobs.cli import main as cli

    (tmp_path / "extract").mkdir()
    code = cli(["run", "--input", str(tmp_path / "extract"), "--since", "run-x", "--as-of", "2020-06-15",
                "--warehouse", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "give --input " + str(tmp_path / "w" / "raw") in err[0]


def test_a_purge_after_a_monthly_run_leaves_no_trace_in_the_rows_it_marked_deleted(spark, month):
    """The monthly MERGE marks the old history rows of the people it decided again deleted
    (deletion vectors), leaving them in their files: a purge must rewrite those files too."""
    log = Path(month["inc"], "history", "_delta_log")
    actions = [json.loads(line) for f in sorted(log.glob("*.json")) for line in f.read_text().splitlines()]
    assert any((a.get("add") or {}).get("deletionVector") for a in actions)  # rows were marked, not rewritten
    person = sorted(month["rows"] - {NEW_ID})[0]  # changed in month 2: their month-1 rows were marked deleted
    done = purge(spark, month["inc"], [person], "sealed after a monthly run")
    assert done["traces"] == [] and done["files_checked"] > 0
    history = Warehouse(month["inc"]).read(spark, "history")
    assert history.where(person_key(F.col("SUBJECT_ID")) == person).count() == 0


def test_a_value_moved_into_a_neighbouring_empty_column_changes_the_row_hashes(spark):
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    from clearsweep.rowhash import row_hashes
    from clearsweep.schema import DOJ_COLUMNS

    schema = StructType([*[StructField(c, StringType()) for c in DOJ_COLUMNS],
                         StructField("file_index", IntegerType()), StructField("line_no", LongType())])
    empty = {c: None for c in DOJ_COLUMNS}
    rows = [{**empty, DOJ_COLUMNS[3]: "X", "file_index": 0, "line_no": 1},
            {**empty, DOJ_COLUMNS[4]: "X", "file_index": 0, "line_no": 1}]
    first, moved = spark.createDataFrame(rows, schema).select(*row_hashes()).collect()
    assert first[0] != moved[0] and first[1] != moved[1]

