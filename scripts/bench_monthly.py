"""scripts/bench --monthly: a month's incremental run against a full run of the same raw table.

The base: the cached seeded extract, ingested and decided in full as of AS_OF (the base run).
Next month: `generate --next-month-of` (1% of people changed by default, cached beside the base),
ingested into a copy of the base warehouse and its purge list purged: that warehouse, M, is
copied before each measured run so every run starts from the same state. In A (a copy of M) the
incremental run `run --since BASE`, in B (another copy) a full run, both from the month's raw
table as of one month later, under the default policy; with --repeat they take turns. Then the
content check, in its own Spark process (`bench_monthly.py compare A B`): per-county checksums
of determinations, people and history (clearsweep.outputs.checksum, each table at the version
its warehouse's latest run recorded) and the run's figures, equal in A and B. The month's
ingest is timed against the base's.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench_lib import CLI, PYTHON, Sample, extract, measure

AS_OF, NEXT_AS_OF = "2019-11-11", "2019-12-11"
MONTH_SEED = 2017
TARGET = {1_000_000: 0.5, 10_000_000: 0.2}  # incremental / full run, by extract rows
INGEST_TARGET = 1.0  # the month's ingest / the base's
TABLES = ("determinations", "people", "history")


def month_extract(work: Path, base: Path, changed: float) -> tuple[Path, float | None]:
    """The next month of `base`, generated once and reused; the seconds it took when made now."""
    folder = work / f"{base.name}-month-{changed:g}"
    if (folder / "changes.json").exists():
        return folder, None
    shutil.rmtree(folder, ignore_errors=True)
    print(f"bench: generating next month of {base.name} ({changed:g} changed) in {folder}", file=sys.stderr, flush=True)
    sample = measure([CLI, "generate", "--next-month-of", str(base), "--changed", str(changed),
                      "--seed", str(MONTH_SEED), "--out", str(folder)], work)
    if sample.returncode:
        sys.exit(f"bench: generate --next-month-of failed:\n{sample.stderr[-2000:]}")
    return folder, sample.seconds


def copy(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True)
    return target


def step(name: str, cmd: list[str], work: Path) -> Sample:
    print(f"bench: {name}", end="", file=sys.stderr, flush=True)
    sample = measure(cmd, work)
    status = f", exit {sample.returncode}" if sample.returncode else ""
    print(f": {sample.seconds:.1f} s, {sample.peak_pss_gb:.2f} GB{status}", file=sys.stderr, flush=True)
    return sample


def run_id(sample: Sample) -> str | None:
    found = re.search(r"^run (\S+):", sample.stdout, re.M)
    return found[1] if found else None


def summary(name: str, samples: list[Sample], against: list[Sample] | None = None, target: float | None = None,
            pss_within: list[Sample] | None = None) -> dict:
    good = [s for s in samples if s.returncode == 0]
    median = statistics.median(s.seconds for s in good) if good else None
    ref = [s for s in against or [] if s.returncode == 0]
    ratio = median / statistics.median(s.seconds for s in ref) if median and ref else None
    peak = max((s.peak_pss_gb for s in good), default=None)
    ref_peak = max((s.peak_pss_gb for s in pss_within or [] if s.returncode == 0), default=None)
    checks = ([ratio is not None and ratio <= target] if target else []) + \
             ([peak is not None and ref_peak is not None and peak <= ref_peak] if pss_within else [])
    failed = [s for s in samples if s.returncode]
    return {"name": name, "result": "FAILED" if failed else "ref" if not checks else "pass" if all(checks) else "FAIL",
            "seconds_median": _r(median), "seconds": [round(s.seconds, 2) for s in samples],
            "peak_pss_gb": _r(peak), "ratio": _r(ratio, 3), "target_ratio": target,
            "pss_limit_gb": _r(ref_peak) if pss_within else None,
            "stderr_tail": failed[0].stderr.splitlines()[-15:] if failed else None}


def _r(x, digits=2):
    return None if x is None else round(x, digits)


def monthly(work: Path, rows: int, repeat: int, changed: float, json_path: str | None) -> int:
    base = extract(work, rows, "csv")
    month, generate_seconds = month_extract(work, base, changed)
    changes = json.loads((month / "changes.json").read_text())
    home = work / "warehouses" / f"monthly-{rows}"
    shutil.rmtree(home, ignore_errors=True)
    w_base, w_month = home / "base", home / "month"
    quiet = ["--quiet"]
    ingest_base = step("ingest base", [CLI, "ingest", *quiet, "--input", str(base), "--warehouse", str(w_base)], work)
    run_base = step("full run, base", [CLI, "run", *quiet, "--input", str(w_base / "raw"), "--as-of", AS_OF,
                                       "--warehouse", str(w_base)], work)
    base_id = run_id(run_base)
    if ingest_base.returncode or run_base.returncode or not base_id:
        print((ingest_base.stderr + run_base.stderr)[-3000:], file=sys.stderr)
        return 1
    copy(w_base, w_month)
    ingest_month = step("ingest month", [CLI, "ingest", *quiet, "--input", str(month), "--warehouse", str(w_month)], work)
    purge = step(f"purge {len(changes['purge'])} people", [CLI, "purge", "--warehouse", str(w_month), "--reason",
                                                            "bench: sealed this month", "--subject", *changes["purge"]], work) \
        if changes["purge"] else None
    if ingest_month.returncode or (purge and purge.returncode):
        print((ingest_month.stderr + (purge.stderr if purge else ""))[-3000:], file=sys.stderr)
        return 1
    incremental, full = [], []
    w_a, w_b = home / "A", home / "B"
    for turn in range(repeat):
        copy(w_month, w_a)
        incremental.append(step(f"incremental run ({turn + 1}/{repeat})", [
            CLI, "run", *quiet, "--input", str(w_a / "raw"), "--since", base_id, "--as-of", NEXT_AS_OF,
            "--warehouse", str(w_a)], work))
        copy(w_month, w_b)
        full.append(step(f"full run ({turn + 1}/{repeat})", [
            CLI, "run", *quiet, "--input", str(w_b / "raw"), "--as-of", NEXT_AS_OF, "--warehouse", str(w_b)], work))
    results = [
        summary("ingest base", [ingest_base]),
        summary("ingest month", [ingest_month], [ingest_base], INGEST_TARGET),
        summary("full run, base", [run_base]),
        *([summary("purge", [purge])] if purge else []),
        summary("full run, month", full),
        summary("incremental run, month", incremental, full, TARGET.get(rows, 0.5), pss_within=full),
    ]
    checks = compare(work, w_a, w_b) if incremental[-1].returncode == 0 and full[-1].returncode == 0 else \
        [{"check": "content equality", "result": "FAIL", "detail": "a run failed"}]
    report = {"rows": rows, "changed": changed, "people_changed": changes["people_changed"],
              "kinds": changes["kinds"], "purged": len(changes["purge"]), "base_run": base_id,
              "as_of": [AS_OF, NEXT_AS_OF], "generate_month_seconds": _r(generate_seconds),
              "repeat": repeat, "measurements": results, "checks": checks}
    print(f"{rows:,} rows, {changes['people_changed']:,} of {changes['people_before']:,} people changed "
          f"({', '.join(f'{n} {k}' for k, n in changes['kinds'].items())}); as of {AS_OF} then {NEXT_AS_OF}, repeat {repeat}")
    print(table(results))
    for c in checks:
        print(f"{c['result']:4}  {c['check']}" + (f": {c['detail']}" if c.get("detail") else ""))
    text = json.dumps(report, indent=2)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(text + "\n")
    print(text)
    bad = any(r["result"] in ("FAILED", "FAIL") for r in results) or any(c["result"] != "PASS" for c in checks)
    return 1 if bad else 0


def table(results: list[dict]) -> str:
    def cell(r, key, fmt):
        return "-" if r[key] is None else format(r[key], fmt)

    def target(r):
        parts = ([f"<={r['target_ratio']:g}"] if r["target_ratio"] else []) + \
                ([f"PSS <={r['pss_limit_gb']:.2f} GB"] if r["pss_limit_gb"] else [])
        return ", ".join(parts) or "-"

    rows = [("measurement", "wall s", "peak GB", "ratio", "target", "result")]
    rows += [(r["name"], cell(r, "seconds_median", ".1f"), cell(r, "peak_pss_gb", ".2f"), cell(r, "ratio", ".3f"),
              target(r), r["result"]) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    for r in results:
        if r["stderr_tail"]:
            lines += [f"{r['name']} failed, last lines of stderr:"] + ["    " + line for line in r["stderr_tail"]]
    return "\n".join(lines)


def compare(work: Path, a: Path, b: Path) -> list[dict]:
    """The content checks, in their own Spark process."""
    print("bench: comparing the two warehouses", file=sys.stderr, flush=True)
    done = subprocess.run([PYTHON, __file__, "compare", str(a), str(b)], cwd=work, capture_output=True, text=True)
    if done.returncode:
        return [{"check": "content equality", "result": "FAIL", "detail": "compare failed: " + done.stderr[-500:]}]
    return json.loads(done.stdout.strip().splitlines()[-1])


def snapshot(spark, location: str) -> dict:
    """Per-county checksums of the county tables at the latest run's versions, and its figures."""
    from pyspark.sql import functions as F

    from clearsweep.outputs.checksum import county_checksums
    from clearsweep.outputs.warehouse import Warehouse

    wh = Warehouse(location)
    run = wh.run_record(spark)
    versions = wh.versions_for(spark, TABLES, run)
    out = {t: county_checksums(wh.read(spark, t, versions[t]), run["counties"]) for t in TABLES}
    figures = wh.read(spark, "figures").where(F.col("run_id") == run["run_id"]).collect()
    out["figures"] = {r["county"]: [json.loads(r["summary_json"] or "null"), json.loads(r["extended_json"] or "null")]
                      for r in figures}
    out["run_id"] = run["run_id"]
    return out


def compare_main(a: str, b: str) -> int:
    from clearsweep.session import get_spark

    spark = get_spark(app_name="bench-monthly-compare")
    left, right = snapshot(spark, a), snapshot(spark, b)
    checks = []
    for part in (*TABLES, "figures"):
        x, y = left[part], right[part]
        differ = sorted(c for c in x.keys() | y.keys() if x.get(c) != y.get(c))
        detail = f"{len(x)} counties equal" if not differ else \
            f"{len(differ)} of {len(x.keys() | y.keys())} counties differ, e.g. {differ[0]}"
        name = f"{part}: per-county checksums equal" if part != "figures" else "figures equal"
        checks.append({"check": name, "result": "PASS" if not differ else "FAIL", "detail": detail})
    print(json.dumps(checks))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare_main(sys.argv[2], sys.argv[3]))
    sys.exit("usage: bench_monthly.py compare WAREHOUSE_A WAREHOUSE_B (scripts/bench --monthly runs it)")
