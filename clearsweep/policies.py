"""Policies and the statewide policy map: parsed, validated and hashed before any Spark work."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from clearsweep.errors import UserError
from clearsweep.paths import CONF_DIR

BUILT_IN = ("statutory", "la-2020", "dismiss-all", "dismiss-all-related", "configurable")
SECTIONS = ("11357", "11358", "11359", "11360")

COUNTIES = (
    "ALAMEDA", "ALPINE", "AMADOR", "BUTTE", "CALAVERAS", "COLUSA", "CONTRA COSTA", "DEL NORTE",
    "EL DORADO", "FRESNO", "GLENN", "HUMBOLDT", "IMPERIAL", "INYO", "KERN", "KINGS", "LAKE",
    "LASSEN", "LOS ANGELES", "MADERA", "MARIN", "MARIPOSA", "MENDOCINO", "MERCED", "MODOC", "MONO",
    "MONTEREY", "NAPA", "NEVADA", "ORANGE", "PLACER", "PLUMAS", "RIVERSIDE", "SACRAMENTO",
    "SAN BENITO", "SAN BERNARDINO", "SAN DIEGO", "SAN FRANCISCO", "SAN JOAQUIN", "SAN LUIS OBISPO",
    "SAN MATEO", "SANTA BARBARA", "SANTA CLARA", "SANTA CRUZ", "SHASTA", "SIERRA", "SISKIYOU",
    "SOLANO", "SONOMA", "STANISLAUS", "SUTTER", "TEHAMA", "TRINITY", "TULARE", "TUOLUMNE",
    "VENTURA", "YOLO", "YUBA",
)


@dataclass(frozen=True)
class Policy:
    name: str  # one of BUILT_IN
    params: dict = field(default_factory=dict, hash=False, compare=True)

    def key(self) -> str:
        return json.dumps({"name": self.name, **self.params}, sort_keys=True)

    def as_dict(self) -> dict:
        """The dict form the reference classifier and the export use."""
        if self.name == "configurable":
            return self.params["options"]
        return {"name": self.name, **self.params}


@dataclass(frozen=True)
class PolicyMap:
    by_county: dict  # county -> Policy (every county of the run)
    source: str  # what the user gave

    def policies(self) -> list[Policy]:
        seen: dict[str, Policy] = {}
        for county in sorted(self.by_county):
            p = self.by_county[county]
            seen.setdefault(p.key(), p)
        return list(seen.values())

    def as_json(self) -> str:
        return json.dumps({c: json.loads(p.key()) for c, p in sorted(self.by_county.items())}, sort_keys=True)

    def hash(self) -> str:
        return hashlib.sha256(self.as_json().encode()).hexdigest()[:16]


def validate_options(options: dict, where: str) -> dict:
    """The reference tool's eligibility_options.json, with its ranges checked."""
    if not isinstance(options, dict):
        raise UserError(f"{where}: options must be a JSON object")
    base = options.get("baselineEligibility") or {}
    relief = options.get("additionalRelief") or {}
    unknown = set(options) - {"baselineEligibility", "additionalRelief"}
    if unknown:
        raise UserError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("dismiss", "reduce"):
        for s in base.get(key) or []:
            if str(s) not in SECTIONS:
                raise UserError(f"{where}: baselineEligibility.{key} has {s!r}; allowed {', '.join(SECTIONS)}")
    overlap = set(map(str, base.get("dismiss") or [])) & set(map(str, base.get("reduce") or []))
    if overlap:
        raise UserError(f"{where}: sections both dismissed and reduced: {sorted(overlap)}")
    age = _int(relief.get("subjectAgeThreshold", 0), where, "subjectAgeThreshold")
    if age != 0 and not 40 <= age <= 65:
        raise UserError(f"{where}: subjectAgeThreshold is {age}; it must be 0 or 40-65")
    for key in ("yearsSinceConvictionThreshold", "yearsCrimeFreeThreshold"):
        v = _int(relief.get(key, 0), where, key)
        if v != 0 and not 1 <= v <= 15:
            raise UserError(f"{where}: {key} is {v}; it must be 0 or 1-15")
    for key in ("subjectUnder21AtConviction", "subjectHasOnlyProp64Charges", "subjectIsDeceased"):
        if not isinstance(relief.get(key, False), bool):
            raise UserError(f"{where}: {key} must be true or false")
    known = {"subjectUnder21AtConviction", "subjectAgeThreshold", "yearsSinceConvictionThreshold",
             "yearsCrimeFreeThreshold", "subjectHasOnlyProp64Charges", "subjectIsDeceased"}
    if set(relief) - known:
        raise UserError(f"{where}: unknown additionalRelief keys {sorted(set(relief) - known)}")
    return {
        "baselineEligibility": {"dismiss": [str(s) for s in base.get("dismiss") or []], "reduce": [str(s) for s in base.get("reduce") or []]},
        "additionalRelief": {k: relief[k] for k in sorted(relief)},
    }


def _int(value, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{where}: {key} must be a whole number, got {value!r}")
    return value


def policy_from_entry(entry: dict, where: str, base_dir: Path) -> Policy:
    if not isinstance(entry, dict) or "policy" not in entry:
        raise UserError(f"{where}: each entry needs `policy:` (one of {', '.join(BUILT_IN)})")
    name = entry["policy"]
    params = {k: v for k, v in entry.items() if k != "policy"}
    if name == "la-2020":
        age = _int(params.get("age", 50), where, "age")
        years = _int(params.get("years", 10), where, "years")
        if not 1 <= age <= 120 or not 1 <= years <= 50:
            raise UserError(f"{where}: la-2020 needs age 1-120 and years 1-50")
        return Policy("la-2020", {"age": age, "years": years})
    if name == "configurable":
        if "options_file" in params:
            path = (base_dir / params["options_file"]).resolve()
            return Policy("configurable", {"options": validate_options(_read_json(path), str(path))})
        return Policy("configurable", {"options": validate_options(params.get("options"), where)})
    if name in ("statutory", "dismiss-all", "dismiss-all-related"):
        if params:
            raise UserError(f"{where}: {name} takes no parameters")
        return Policy(name)
    raise UserError(f"{where}: unknown policy {name!r}; known: {', '.join(BUILT_IN)}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"policy file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def resolve_counties(named: list[str] | None) -> list[str]:
    if not named:
        return list(COUNTIES)
    out = []
    for c in named:
        norm = c.strip().upper()
        if norm not in COUNTIES:
            raise UserError(f"unknown county {c!r}: use one of the 58 DOJ county names, e.g. 'LOS ANGELES'")
        out.append(norm)
    return sorted(set(out))


def load_policy_map(policy: str | None, counties: list[str]) -> PolicyMap:
    """--policy as a built-in name, a policy-map YAML or a reference options JSON."""
    if policy is None:
        path = CONF_DIR / "policy_map.yaml"
        return _from_yaml(path, counties)
    if policy in BUILT_IN and policy != "configurable":
        p = policy_from_entry({"policy": policy}, "--policy", CONF_DIR)
        return PolicyMap({c: p for c in counties}, policy)
    path = Path(policy)
    if not path.exists():
        raise UserError(f"--policy {policy!r} is neither a built-in policy ({', '.join(BUILT_IN[:-1])}) nor a file")
    if path.suffix.lower() == ".json":
        p = Policy("configurable", {"options": validate_options(_read_json(path), str(path))})
        return PolicyMap({c: p for c in counties}, str(path.resolve()))
    return _from_yaml(path, counties)


def _from_yaml(path: Path, counties: list[str]) -> PolicyMap:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from None
    default = policy_from_entry(doc.get("default", {"policy": "statutory"}), f"{path}: default", path.parent)
    overrides = {}
    for county, entry in (doc.get("counties") or {}).items():
        if county.strip().upper() not in COUNTIES:
            raise UserError(f"{path}: unknown county {county!r}")
        overrides[county.strip().upper()] = policy_from_entry(entry, f"{path}: {county}", path.parent)
    return PolicyMap({c: overrides.get(c, default) for c in counties}, str(path.resolve()))
