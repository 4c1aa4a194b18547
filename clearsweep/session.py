"""Spark sessions from the profiles in conf/profiles.yaml, with Delta from the cached jars."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Iterable

import yaml
from pyspark import SparkContext
from pyspark.sql import SparkSession

from clearsweep import classes, scratch
from clearsweep.errors import UserError
from clearsweep.paths import CONF_DIR, LOG_ENV, cache_dir, jars_dir, umask

SPLIT_BYTES = "spark.sql.files.maxPartitionBytes"
OPEN_COST = "spark.sql.files.openCostInBytes"
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def load_profiles() -> dict:
    with open(CONF_DIR / "profiles.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def cached_delta_jars() -> list[str]:
    """The jars sessions load: Delta's own, from the cache (pyspark ships the rest)."""
    with open(CONF_DIR / "delta.yaml", encoding="utf-8") as f:
        prefixes = yaml.safe_load(f)["load"]
    jars = sorted(str(p) for p in jars_dir().glob("*.jar") if p.name.startswith(tuple(prefixes)))
    if len(jars) != len(prefixes):
        raise UserError(f"the Delta jars are not in {jars_dir()}: run scripts/setup once")
    return jars


def byte_size(value: str) -> int:
    """Spark's size strings ("64m", "1g", "1048576") in bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)b?\s*", str(value).lower())
    if not m:
        raise UserError(f"not a size: {value!r} (use e.g. 64m)")
    return int(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " ")


def session_conf(profile: str | None = None, overrides: Iterable[str] = ()) -> tuple[str | None, dict]:
    """(master, conf) for a profile; `overrides` are `key=value` strings that win."""
    profiles = load_profiles()
    name = profile or profiles["default"]
    if name not in profiles["profiles"]:
        raise UserError(f"unknown profile {name!r}; known: {', '.join(profiles['profiles'])}")
    chosen = profiles["profiles"][name]
    conf = {**profiles["common"], **(chosen.get("conf") or {}), **DELTA_CONF}
    delta_jars = cached_delta_jars()
    conf["spark.jars"] = ",".join(delta_jars)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--conf takes key=value, got {item!r}")
        conf[key.strip()] = value.strip()
    # Spark's log lines go to the command's log file, and no spark-warehouse/ appears where it runs
    log = os.environ.get(LOG_ENV)
    java = f"-Dlog4j2.configurationFile={(CONF_DIR / 'log4j2.properties').as_uri()}" + (f" -Dclearsweep.log={log}" if log else "")
    java += f" {classes.java_options(delta_jars)}".rstrip()
    conf["spark.driver.extraJavaOptions"] = f"{java} {conf.get('spark.driver.extraJavaOptions', '')}".strip()
    conf.setdefault("spark.sql.warehouse.dir", (cache_dir() / "spark-warehouse").as_uri())
    conf.setdefault("spark.hadoop.fs.permissions.umask-mode", umask())
    # One file split per partition: line numbers are counted per split (clearsweep.ingest.extract).
    conf[OPEN_COST] = str(byte_size(conf.get(SPLIT_BYTES, "128m")))
    master = os.environ.get("CLEARSWEEP_SPARK_MASTER") or chosen.get("master")
    return master, conf


def get_spark(profile: str | None = None, overrides: Iterable[str] = (), app_name: str = "clearsweep",
              warehouse: str | None = None) -> SparkSession:
    """With a `warehouse`, Spark's scratch files go to a private folder of its own (clearsweep.scratch)."""
    master, conf = session_conf(profile, overrides)
    if warehouse is not None:
        conf = scratch.spark_conf(conf, scratch.make(warehouse))
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    launch = scratch.launch_environment(scratch.current()) if warehouse is not None else contextlib.nullcontext()
    with _jvm_output_to_log(), launch:
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if warehouse is not None:
        scratch.remove_at_exit(spark)
    return spark


@contextlib.contextmanager
def _jvm_output_to_log():
    """The JVM is a child process started with the gateway and inherits fds 1 and 2: pointing them
    at the command's log file while it starts sends all it ever prints (the JDK's warnings, Delta's
    VACUUM counts) to the log, never to the console, which holds results and progress only."""
    log = os.environ.get(LOG_ENV)
    if not log or SparkContext._gateway is not None:  # no command log, or the JVM runs already
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    target = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (target, *saved):
            os.close(fd)


def add_session_arguments(parser) -> None:
    parser.add_argument("--profile", default=None, help="Spark profile from conf/profiles.yaml (local, standalone, cluster)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark setting (repeatable)")
