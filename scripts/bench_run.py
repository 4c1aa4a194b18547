"""Benchmark: `clearsweep run` from CSV end to end vs pyarrow parsing the same CSV.

    .venv/bin/python scripts/bench_run.py [--rows 1000000] [--work out/bench]

Generates the extract once (seeded), times pyarrow.csv.read_csv on it (all 95 columns as strings,
both cores), then times the whole `clearsweep run` command (process start, Spark start, read,
decide all 58 counties, every Delta write) and prints the ratio.

It also times the floor any Spark command has on this machine: a process that only starts the
same Spark session and runs one trivial job, and Spark's own CSV reader parsing the file, so
the ratio can be read against what Spark itself costs here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clearsweep.schema import DOJ_COLUMNS  # noqa: E402

CLI = str(ROOT / ".venv" / "bin" / "clearsweep")


def ensure_extract(work: Path, rows: int) -> Path:
    extract = work / f"extract-{rows}"
    if not (extract / "manifest.json").exists():
        shutil.rmtree(extract, ignore_errors=True)
        extract.mkdir(parents=True)
        subprocess.run([CLI, "generate", "--rows", str(rows), "--seed", "2016", "--out", str(extract)], check=True)
    return next(extract.glob("extract-*.csv"))


def time_pyarrow(csv_path: Path) -> float:
    types = {c: pa.string() for c in DOJ_COLUMNS}
    start = time.perf_counter()
    table = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(column_types=types))
    elapsed = time.perf_counter() - start
    assert table.num_columns == len(DOJ_COLUMNS)
    return elapsed


def time_run(csv_path: Path, warehouse: Path) -> tuple[float, str]:
    shutil.rmtree(warehouse, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run([CLI, "run", "--input", str(csv_path), "--warehouse", str(warehouse), "--as-of", "2019-11-11"],
                          check=True, capture_output=True, text=True)
    return time.perf_counter() - start, proc.stdout


FLOOR = """
import sys, time
start = time.perf_counter()
from clearsweep.session import get_spark
from clearsweep.schema import DOJ_COLUMNS
spark = get_spark("local")
spark.range(1).count()
ready = time.perf_counter() - start
schema = ", ".join(f"`{c}` STRING" for c in DOJ_COLUMNS)
start = time.perf_counter()
spark.read.schema(schema).option("header", "true").csv(sys.argv[1]).write.format("noop").mode("overwrite").save()
print(round(ready, 2), round(time.perf_counter() - start, 2))
"""


def time_spark_floor(csv_path: Path) -> dict:
    """Whole process that starts Spark and runs one trivial job; then Spark's CSV parse alone."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", FLOOR, str(csv_path)], cwd=ROOT, check=True, capture_output=True, text=True)
    ready, parse = proc.stdout.strip().splitlines()[-1].split()  # Spark may log to stdout first
    return {"spark_start_and_trivial_job_s": float(ready), "spark_csv_parse_s": float(parse),
            "spark_floor_process_s": round(time.perf_counter() - start, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", default=str(ROOT / "out" / "bench"))
    args = parser.parse_args()
    work = Path(args.work)
    csv_path = ensure_extract(work, args.rows)
    arrow = min(time_pyarrow(csv_path) for _ in range(3))
    floor = time_spark_floor(csv_path)
    run_seconds, stdout = time_run(csv_path, work / "warehouse")
    result = {"rows": args.rows, "csv_bytes": csv_path.stat().st_size, "pyarrow_parse_s": round(arrow, 2),
              "run_end_to_end_s": round(run_seconds, 2), "ratio": round(run_seconds / arrow, 1), "target_ratio": 3.0,
              **floor, "spark_floor_ratio": round(floor["spark_floor_process_s"] / arrow, 1)}
    print(stdout.strip())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
