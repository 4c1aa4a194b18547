"""Where the repository's data lives, wherever the command is run from."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"
CHARGE_CODES_DIR = CONF_DIR / "charge_codes"


def cache_dir() -> Path:
    """The git-ignored cache that scripts/setup fills (Delta jars and their checksums)."""
    return Path(os.environ.get("CLEARSWEEP_CACHE", REPO_ROOT / ".cache"))


def jars_dir() -> Path:
    return cache_dir() / "jars"


LOG_ENV = "CLEARSWEEP_LOG"  # the running command's log file (jobs/cli.py sets it; sessions log there)


def umask() -> str:
    """What commands write is readable by its owner only, unless CLEARSWEEP_UMASK says otherwise
    (e.g. 027 to share with a group); Hadoop's file system takes the same mask."""
    return os.environ.get("CLEARSWEEP_UMASK", "077")
