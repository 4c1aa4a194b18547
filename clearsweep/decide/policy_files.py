"""--policy as the user gives it: a built-in name, a policy-map YAML (a default and per-county
entries) or a reference options JSON. Parsed and validated once, before any Spark work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from clearsweep import counties as county_list
from clearsweep.decide.policies import DEFAULT_POLICY, OPTIONS_POLICY, REGISTRY, Policy, PolicyMap, one_line
from clearsweep.errors import UserError
from clearsweep.paths import CONF_DIR

DEFAULT_MAP = CONF_DIR / "policy_map.yaml"


class MapFile(BaseModel):
    """A policy-map YAML: `default:` and `counties:`, each entry `{policy: NAME, ...parameters}`."""
    model_config = ConfigDict(extra="forbid", strict=True)
    default: dict[str, Any] = {"policy": DEFAULT_POLICY}
    counties: dict[str, dict[str, Any]] = {}


def policy_from_entry(entry: dict, where: str, base_dir: Path) -> Policy:
    """One map entry; a configurable policy's options may live in a file beside the map."""
    if not isinstance(entry, dict) or "policy" not in entry:
        raise UserError(f"{where}: each entry needs `policy:` (one of {', '.join(REGISTRY)})")
    name = entry["policy"]
    params = {k: v for k, v in entry.items() if k != "policy"}
    if name == OPTIONS_POLICY and "options_file" in params:
        if set(params) != {"options_file"}:
            raise UserError(f"{where}: give either options_file or options, not both")
        path = (base_dir / str(params["options_file"])).resolve()
        return Policy.of(name, {"options": read_json(path)}, str(path))
    return Policy.of(str(name), params, where)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"policy file not found: {path}") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise UserError(f"{path}: cannot be read as a UTF-8 JSON file ({type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def load_policy_map(policy: str | None, counties: list[str]) -> PolicyMap:
    """The run's policy for each of its counties."""
    if policy is None:
        return _from_yaml(DEFAULT_MAP, counties)
    if policy in REGISTRY and policy != OPTIONS_POLICY:
        p = Policy.of(policy, {}, "--policy")
        return PolicyMap({c: p for c in counties}, policy)
    path = Path(policy)
    if not path.is_file():
        named = ", ".join(n for n in REGISTRY if n != OPTIONS_POLICY)
        raise UserError(f"--policy {policy!r} is neither a built-in policy ({named}) nor a file")
    if path.suffix.lower() == ".json":
        p = Policy.of(OPTIONS_POLICY, {"options": read_json(path)}, str(path))
        return PolicyMap({c: p for c in counties}, str(path.resolve()))
    return _from_yaml(path, counties)


class _UniqueKeys(yaml.SafeLoader):
    """YAML keeps the last of two equal keys without a word; a policy map must not."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise _DuplicateKey(f"{key!r} is given twice (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)


class _DuplicateKey(Exception):
    pass


def _from_yaml(path: Path, counties: list[str]) -> PolicyMap:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys)  # noqa: S506 - a SafeLoader
    except _DuplicateKey as exc:
        raise UserError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: not valid YAML ({first})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text file") from None
    if doc is None:  # an empty file is a mistake, never a silent statutory baseline
        raise UserError(f"{path}: the policy map is empty (give `default:` and `counties:` entries)")
    if not isinstance(doc, dict):
        raise UserError(f"{path}: a policy map is a mapping with `default:` and `counties:`, not a {type(doc).__name__}")
    try:
        parsed = MapFile.model_validate(doc)
    except ValidationError as exc:
        raise UserError(one_line(exc, str(path))) from None
    default = policy_from_entry(parsed.default, f"{path}: default", path.parent)
    overrides, spelled = {}, {}
    for county, entry in parsed.counties.items():
        name = county_list.normalize(county, str(path))
        if name in overrides:
            raise UserError(f"{path}: county {name} is given twice (as {spelled[name]!r} and {county!r})")
        spelled[name] = county
        overrides[name] = policy_from_entry(entry, f"{path}: {county}", path.parent)
    return PolicyMap({c: overrides.get(c, default) for c in counties}, str(path.resolve()))
