"""The policy registry: each built-in policy is one entry (its parameter model, its rule builder,
whether related charges are in scope, which fact columns its export carries), and a run's
policy map (county -> policy). Parameters are validated by their pydantic model, which rejects
unknown keys and names the key and value it refuses."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pyspark.sql import Column

from clearsweep.decide import rules
from clearsweep.decide.rules import Rule
from clearsweep.errors import UserError

SECTIONS = ("11357", "11358", "11359", "11360")
Section = Literal["11357", "11358", "11359", "11360"]


class Params(BaseModel):
    """A policy's parameters: strict types, no unknown keys, immutable."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NoParams(Params):
    pass


class LosAngeles2020(Params):
    age: int = Field(50, ge=1, le=120, description="rule 7: dismiss at this age or older")
    years: int = Field(10, ge=1, le=50, description="rule 10: dismiss with no conviction in this many years")


class Baseline(Params):
    dismiss: tuple[Section, ...] = ()
    reduce: tuple[Section, ...] = ()

    @field_validator("dismiss", "reduce", mode="before")
    @classmethod
    def _sections_as_text(cls, value):
        # the reference tool's options files write sections as numbers or strings alike
        if isinstance(value, list):
            return tuple(str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
        return value

    @model_validator(mode="after")
    def _disjoint(self):
        both = sorted(set(self.dismiss) & set(self.reduce))
        if both:
            raise ValueError(f"sections both dismissed and reduced: {both}")
        return self


def _zero_or_between(low: int, high: int):
    def check(value: int) -> int:
        if value != 0 and not low <= value <= high:
            raise ValueError(f"must be 0 (off) or {low}-{high}, got {value}")
        return value
    return check


class Relief(Params):
    subjectUnder21AtConviction: bool = False
    subjectAgeThreshold: int = 0
    yearsSinceConvictionThreshold: int = 0
    yearsCrimeFreeThreshold: int = 0
    subjectHasOnlyProp64Charges: bool = False
    subjectIsDeceased: bool = False

    _age = field_validator("subjectAgeThreshold")(_zero_or_between(40, 65))
    _since = field_validator("yearsSinceConvictionThreshold", "yearsCrimeFreeThreshold")(_zero_or_between(1, 15))


class Options(Params):
    """The reference tool's eligibility_options.json."""
    baselineEligibility: Baseline = Baseline()
    additionalRelief: Relief = Relief()


class Configurable(Params):
    options: Options


@dataclass(frozen=True)
class Kind:
    """One built-in policy."""
    name: str
    params: type[Params]
    build: Callable[[Params, Column], list[Rule]]  # (parameters, as-of date) -> rules in order
    related_in_scope: bool = False  # decides PC related convictions too, not only Prop 64 ones
    export_omits: tuple[str, ...] = ()  # fact columns its reference export leaves out
    summary: str = ""


DEFAULT_POLICY = "statutory"  # a map's `default:` when it names none
OPTIONS_POLICY = "configurable"  # the kind a reference options JSON file is read as

REGISTRY: dict[str, Kind] = {k.name: k for k in (
    Kind("statutory", NoParams, lambda p, as_of: rules.statutory_rules(),
         summary="HS 11361.8 as written: dismiss misdemeanors, reduce felonies unless a prior lets one stand"),
    Kind("la-2020", LosAngeles2020, lambda p, as_of: rules.la_2020_rules(p.age, p.years, as_of),
         export_omits=("occurred_after_prop64",), summary="Los Angeles County's 2020 motion"),
    Kind("dismiss-all", NoParams, lambda p, as_of: rules.dismiss_all_rules(False),
         summary="what-if: dismiss every Prop 64 conviction"),
    Kind("dismiss-all-related", NoParams, lambda p, as_of: rules.dismiss_all_rules(True), related_in_scope=True,
         summary="what-if: dismiss every Prop 64 and related conviction"),
    Kind("configurable", Configurable, lambda p, as_of: rules.configurable_rules(p.options.model_dump(), as_of),
         summary="a county's eligibility_options.json, as the reference tool reads it"),
)}


def one_line(exc: ValidationError, where: str) -> str:
    """pydantic's errors as one line that names each key and the value refused."""
    parts = []
    for e in exc.errors():
        key = ".".join(str(x) for x in e["loc"]) or "(top level)"
        shown = "" if e["type"] in ("missing",) else f" (got {e['input']!r})"
        parts.append(f"{key}: {e['msg'].removeprefix('Value error, ')}{shown}")
    return f"{where}: " + "; ".join(parts)


@dataclass(frozen=True)
class Policy:
    kind: Kind
    params: Params = field(default_factory=NoParams)

    @classmethod
    def of(cls, name: str, params: dict | None = None, where: str = "policy") -> Policy:
        kind = REGISTRY.get(name)
        if kind is None:
            raise UserError(f"{where}: unknown policy {name!r}; known: {', '.join(REGISTRY)}")
        try:
            return cls(kind, kind.params.model_validate(params or {}))
        except ValidationError as exc:
            raise UserError(one_line(exc, f"{where} ({name})")) from None

    @property
    def name(self) -> str:
        return self.kind.name

    def key(self) -> str:
        return json.dumps({"name": self.name, **self.params.model_dump(mode="json")}, sort_keys=True)

    @classmethod
    def from_key(cls, key: dict) -> Policy:
        """A policy as a run recorded it (the inverse of `key`)."""
        return cls.of(key["name"], {k: v for k, v in key.items() if k != "name"}, "recorded policy")

    def rules(self, as_of: Column) -> list[Rule]:
        return self.kind.build(self.params, as_of)

    def decide(self, as_of: Column) -> Column:
        return rules.first_match(self.rules(as_of), self.name)

    def baseline_rules(self, as_of: Column) -> set[str]:
        return {f"{self.name}.{r.name}" for r in self.rules(as_of) if r.baseline}

    def sections(self, relief: Literal["dismiss", "reduce"]) -> tuple[str, ...]:
        """Sections a configurable policy dismisses or reduces outright (the reference summary's keys)."""
        if isinstance(self.params, Configurable):
            return getattr(self.params.options.baselineEligibility, relief)
        return ()

    def as_dict(self) -> dict:
        """The dict form the reference classifier and the figures use."""
        if isinstance(self.params, Configurable):
            return self.params.options.model_dump(mode="json")
        return json.loads(self.key())


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

    def related_counties(self) -> list[str]:
        return sorted(c for c, p in self.by_county.items() if p.kind.related_in_scope)

    def as_json(self) -> str:
        return json.dumps({c: json.loads(p.key()) for c, p in sorted(self.by_county.items())}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> PolicyMap:
        """The policy map a run recorded."""
        return cls({c: Policy.from_key(k) for c, k in json.loads(text).items()}, source)

    def hash(self) -> str:
        return hashlib.sha256(self.as_json().encode()).hexdigest()[:16]
