"""Write a seeded synthetic statewide extract in the CA DOJ research-file format.

Every output is fictional: random combinations of common names, numbers that were never
issued (SSNs start with 9). People get realistic histories across the 58 California counties
(county sizes follow population): arrests, court actions with dispositions and sentences split
over continuation rows, PC 290 registrations, deaths, super strikes, related and other offenses,
Prop 64 convictions (mostly before 2016-11-09) in every code-section spelling the DOJ file
uses, and a small share of dirty values (unusable dates, padding, NULL, junk counties).

--rows N is the number of good data lines. --bad-rows K (CSV only) adds K bad lines of each
kind on top (3K lines: wrong field count, broken quoting, unusable SUBJECT_ID/CNT_ORDER) and
lists them in DIR/bad_rows.json. Output: DIR/extract-00000.csv ... (or .parquet), one per
--files, plus DIR/manifest.json. The same --seed gives byte-identical output whatever
--workers is.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import os
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from datetime import date
from itertools import accumulate, islice
from pathlib import Path
from random import Random
from types import SimpleNamespace
from typing import Iterator, NamedTuple

from clearsweep.errors import UserError
from clearsweep.schema import DOJ_COLUMNS, N_COLUMNS

# Fixed, so that output never depends on the worker count or the machine.
CHUNK_ROWS = 25_000
MAX_FILES = 1000  # every output file stays open while writing
MAX_BAD_ROWS = 100_000  # per kind; the positions are held in memory
FIRST_SUBJECT_ID = 10_000_000
BAD_SUBJECT_ID = 900_000_000  # bad lines never share a SUBJECT_ID with good ones
BAD_KINDS = ("field_count", "quoting", "bad_value")

# A fixed extract date: histories end here, never at the wall clock (reproducibility).
EXTRACT_END = date(2025, 6, 30).toordinal()
PROP64_DAY = date(2016, 11, 9).toordinal()

COL = SimpleNamespace(**{name: i for i, name in enumerate(DOJ_COLUMNS)})
SEPARATOR_COLUMNS = tuple(
    i for i, name in enumerate(DOJ_COLUMNS) if name.endswith("_SEG_SEP") or name == "END_OF_REC"
)
PLACEHOLDER = "  -  "  # the DOJ "no value" dash, padded as delivered

# ---------------------------------------------------------------------------------------------
# Reference data: counties, people, charges
# ---------------------------------------------------------------------------------------------

# 2020 census population in thousands; dict order is alphabetical, which is also the order of
# California's numeric county codes (ALAMEDA = 01 ... YUBA = 58).
COUNTY_POPULATION = {
    "ALAMEDA": 1682, "ALPINE": 1.2, "AMADOR": 41, "BUTTE": 211, "CALAVERAS": 45,
    "COLUSA": 22, "CONTRA COSTA": 1165, "DEL NORTE": 28, "EL DORADO": 191, "FRESNO": 1008,
    "GLENN": 28, "HUMBOLDT": 136, "IMPERIAL": 179, "INYO": 19, "KERN": 909, "KINGS": 152,
    "LAKE": 68, "LASSEN": 33, "LOS ANGELES": 10014, "MADERA": 156, "MARIN": 262,
    "MARIPOSA": 17, "MENDOCINO": 91, "MERCED": 281, "MODOC": 9, "MONO": 13, "MONTEREY": 439,
    "NAPA": 138, "NEVADA": 102, "ORANGE": 3186, "PLACER": 404, "PLUMAS": 20,
    "RIVERSIDE": 2418, "SACRAMENTO": 1585, "SAN BENITO": 64, "SAN BERNARDINO": 2181,
    "SAN DIEGO": 3298, "SAN FRANCISCO": 873, "SAN JOAQUIN": 779, "SAN LUIS OBISPO": 282,
    "SAN MATEO": 764, "SANTA BARBARA": 448, "SANTA CLARA": 1936, "SANTA CRUZ": 270,
    "SHASTA": 182, "SIERRA": 3.2, "SISKIYOU": 44, "SOLANO": 453, "SONOMA": 488,
    "STANISLAUS": 552, "SUTTER": 99, "TEHAMA": 65, "TRINITY": 16, "TULARE": 473,
    "TUOLUMNE": 55, "VENTURA": 843, "YOLO": 216, "YUBA": 81,
}
CA_COUNTIES = tuple(COUNTY_POPULATION)
COUNTY_CUM_WEIGHTS = tuple(accumulate(COUNTY_POPULATION.values()))
# Values that belong to no California county; "NEVADA STATE" is not the county NEVADA.
JUNK_COUNTIES = ("NEVADA STATE", "ARIZONA STATE", "OREGON STATE", "")

# (code, description, share) for people in California arrest records.
RACES = (
    ("H", "HISPANIC", 40), ("W", "WHITE", 30), ("B", "BLACK", 17), ("A", "ASIAN", 3),
    ("F", "FILIPINO", 1), ("P", "PACIFIC ISLANDER", 1), ("I", "AMERICAN INDIAN", 1),
    ("O", "OTHER", 5), ("U", "UNKNOWN", 2),
)
RACE_CUM_WEIGHTS = tuple(accumulate(r[2] for r in RACES))

LAST_NAMES = (
    "SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ "
    "GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON WHITE "
    "HARRIS SANCHEZ CLARK RAMIREZ LEWIS ROBINSON WALKER YOUNG ALLEN KING WRIGHT SCOTT TORRES "
    "NGUYEN HILL FLORES GREEN ADAMS NELSON BAKER HALL RIVERA CAMPBELL MITCHELL CARTER ROBERTS "
    "GOMEZ PHILLIPS EVANS TURNER DIAZ PARKER CRUZ EDWARDS COLLINS REYES STEWART MORRIS MORALES "
    "MURPHY COOK ROGERS GUTIERREZ ORTIZ MORGAN COOPER PETERSON BAILEY REED KELLY HOWARD RAMOS "
    "KIM COX WARD RICHARDSON WATSON BROOKS CHAVEZ WOOD JAMES BENNETT GRAY MENDOZA RUIZ HUGHES "
    "PRICE ALVAREZ CASTILLO SANDERS PATEL MYERS LONG ROSS FOSTER JIMENEZ CHEN WONG TRAN O'BRIEN"
).split() + ["DE LA CRUZ", "VAN DYKE"]
MALE_FIRST_NAMES = (
    "JAMES JOHN ROBERT MICHAEL DAVID WILLIAM RICHARD JOSEPH THOMAS CHRISTOPHER CHARLES DANIEL "
    "MATTHEW ANTHONY MARK DONALD STEVEN ANDREW PAUL JOSHUA KENNETH KEVIN BRIAN GEORGE TIMOTHY "
    "RONALD JASON EDWARD JEFFREY RYAN JACOB GARY NICHOLAS ERIC JONATHAN JOSE LUIS CARLOS JUAN "
    "JESUS MIGUEL ANGEL DEANDRE MARCUS TERRELL DARNELL MINH WEI HIROSHI RAJ"
).split()
FEMALE_FIRST_NAMES = (
    "MARY PATRICIA JENNIFER LINDA ELIZABETH BARBARA SUSAN JESSICA SARAH KAREN LISA NANCY BETTY "
    "MARGARET SANDRA ASHLEY KIMBERLY EMILY DONNA MICHELLE MARIA GUADALUPE ROSA ANA LETICIA "
    "KEISHA TANYA LATOYA MAI LIN"
).split()
INITIALS = "ABCDEFGHIJKLMNOPRSTVW"
EYES = (("BRO", "BROWN"), ("BLU", "BLUE"), ("GRN", "GREEN"), ("HAZ", "HAZEL"), ("BLK", "BLACK"))
HAIR = (("BLK", "BLACK"), ("BRO", "BROWN"), ("BLN", "BLOND"), ("RED", "RED"), ("GRY", "GRAY"))
BIRTHPLACES = (
    ("CA", "CALIFORNIA", "S"), ("CA", "CALIFORNIA", "S"), ("CA", "CALIFORNIA", "S"),
    ("CA", "CALIFORNIA", "S"), ("TX", "TEXAS", "S"), ("AZ", "ARIZONA", "S"),
    ("NY", "NEW YORK", "S"), ("MX", "MEXICO", "C"), ("PI", "PHILIPPINES", "C"),
    ("VN", "VIETNAM", "C"), ("SV", "EL SALVADOR", "C"),
)


class Charge(NamedTuple):
    text: str  # code-section text: "<section> <code>-<description>"
    toc: str  # type of charge: F felony, M misdemeanor, I infraction
    kind: str  # prop64 | super | sex | related | other | registration
    registrable: bool = False  # a conviction requires PC 290 registration


def _charges(kind: str, rows: tuple, registrable: bool = False) -> tuple[Charge, ...]:
    return tuple(Charge(text, toc, kind, registrable) for text, toc in rows)


# Every spelling the DOJ file uses for the Prop 64 sections, with its pre-Prop-64 charge type.
# Weights keep the common forms common and still show each rare form in a modest sample.
PROP64_SPELLINGS = (
    ("11357 HS-POSSESS MARIJUANA", "M", 4),
    ("11357(A) HS-POSSESS CONCENTRATED CANNABIS", "F", 3),
    ("11357(B) HS-POSSESS MARIJUANA 28.5 GRAMS OR LESS", "I", 6),
    ("11357(C) HS-POSSESS MARIJUANA OVER 28.5 GRAMS", "M", 3),
    ("11357(C)HS-POSSESS MARIJUANA", "M", 2),
    ("11357(D) HS-POSSESS MARIJUANA ON SCHOOL GROUNDS", "M", 1),
    ("11357A HS-POSSESS CONCENTRATED CANNABIS", "F", 1),
    ("11357B HS-POSSESS MARIJUANA 28.5 GRAMS OR LESS", "M", 1),
    ("11357B2 HS-POSSESS MARIJUANA 28.5 GRAMS OR LESS", "I", 1),
    ("11358 HS-CULTIVATE MARIJUANA", "F", 3),
    ("11358HS-PLANT/CULTIVATE/ETC MARIJUANA/HASHISH", "F", 1),
    ("11358(C) HS-CULTIVATE OVER SIX CANNABIS PLANTS", "F", 1),
    ("11359 HS-POSSESS MARIJUANA FOR SALE", "F", 5),
    ("11359(A) HS-POSSESS MARIJUANA/HASH FOR SALE", "F", 2),
    ("11359HS-INTENT SELL", "F", 1),
    ("11359(B) HS-POSSESS CANNABIS FOR SALE", "F", 1),
    ("11360(A) HS-SELL/TRANSPORT/ETC MARIJUANA/HASH", "F", 5),
    ("11360 HS-SELL/TRANSPORT/ETC MARIJUANA/HASH", "F", 2),
    ("11360(A) HS-GIVE/ETC MARIJ OVER 1 OZ/28.5 GRM", "F", 1),
    ("11360(B) HS-GIVE/TRANSPORT/ETC 28.5 GRAMS OR LESS", "M", 1),
)
PROP64_CHARGES = _charges("prop64", tuple((t, toc) for t, toc, _ in PROP64_SPELLINGS))
PROP64_CUM_WEIGHTS = tuple(accumulate(w for _, _, w in PROP64_SPELLINGS))
# Attempts (PC 664) are written four ways; 11357 is the most common base section.
ATTEMPT_SEPARATORS = ("/", ".", "-", "")
ATTEMPT_BASES = (
    ("11357", ("", "(A)", "(B)", "(C)"), "POSSESS MARIJUANA", "M"),
    ("11357", ("", "(B)"), "POSSESS MARIJUANA", "M"),
    ("11357", ("",), "POSSESS MARIJUANA", "M"),
    ("11358", ("",), "CULTIVATE MARIJUANA", "F"),
    ("11359", ("", "(A)"), "POSSESS MARIJUANA FOR SALE", "F"),
    ("11360", ("", "(A)"), "SELL/TRANSPORT MARIJUANA", "F"),
)

RELATED_CHARGES = _charges("related", (
    ("647(F) PC-DISORDERLY CONDUCT:INTOX DRUG/ALCOH", "M"),
    ("602(L) PC-TRESPASS:OCCUPY PROPERTY W/O CONSENT", "M"),
    ("602 PC-TRESPASSING", "M"),
    ("466 PC-POSSESS/ETC BURGLARY TOOLS", "M"),
    ("148.9(A) PC-FALSE ID TO SPECIFIC PEACE OFICERS", "M"),
    ("148(A)(1) PC-OBSTRUCT/ETC PUBLIC OFFICER/ETC", "M"),
    ("148 PC-OBSTRUCTS/RESISTS PUBLIC OFFICER", "M"),
    ("1320(B) PC-FAIL TO APPEAR ON FELONY O/R", "F"),
    ("11364 HS-POSSESS CONTROL SUBSTANCE PARAPHERNA", "M"),
    ("11364.1 HS-POSSESS DRUG PARAPHERNALIA", "M"),
    ("11550(A) HS-USE/UNDER INFL CONTRLD SUBSTANCE", "M"),
    ("4140 BP-POSSESS HYPODERMIC NEEDLE/SYRINGE", "M"),
    ("4149 BP-POSSESS HYPODERMIC NEEDLE/SYRINGE", "M"),
    ("4060 BP-POSSESS CONTROLLED SUBSTANCE W/O PRESCRIPTION", "M"),
    ("40508(A) VC-FAIL TO APPEAR:WRITTEN PROMISE", "M"),
))
OTHER_CHARGES = _charges("other", (
    ("503 VC-TAKE CAR W/OUT OWNERS CONSENT", "F"),
    ("459 PC-BURGLARY", "F"),
    ("459 PC-BURGLARY:SECOND DEGREE", "F"),
    ("537(A) PC-DEFRAUD INNKEEPER", "M"),  # not the super strike 37 PC
    ("23152(A) VC-DUI ALCOHOL/DRUGS", "M"),
    ("23152(B) VC-DUI ALCOHOL/0.08 PERCENT", "M"),
    ("10851(A) VC-TAKE VEH W/O OWN CONSENT, VEH THEFT", "F"),  # a comma: quoted in CSV
    ("12500(A) VC-DRIVE W/O LICENSE", "M"),
    ("14601.1(A) VC-DRIVE WHILE LIC SUSPEND/ETC", "M"),
    ("11350(A) HS-POSSESS NARCOTIC CONTROL SUBSTANCE", "F"),
    ("11351 HS-POSS/PURCHASE FOR SALE NARC/CNTL SUB", "F"),  # 1135x but not Prop 64
    ("11352(A) HS-TRANSPORT/SELL NARC/CNTL SUB", "F"),
    ("11377(A) HS-POSSESS CONTROLLED SUBSTANCE", "M"),
    ("11378 HS-POSSESS CONTROL SUBSTANCE FOR SALE", "F"),
    ("11379(A) HS-TRANSPORT/SELL CONTROLLED SUBSTANCE", "F"),
    ("211 PC-ROBBERY", "F"),
    ("242 PC-BATTERY", "M"),
    ("243(E)(1) PC-BAT:SPOUSE/EX SP/DATE/ETC", "M"),
    ("245(A)(1) PC-FORCE/ADW NOT FIREARM:GBI LIKELY", "F"),  # 245, but not (D)(3)
    ("273.5(A) PC-INFLICT CORPORAL INJ SPOUSE/COHAB", "F"),
    ("422 PC-THREATEN CRIME WITH INTENT TO TERRORIZE", "F"),
    ("166(A)(4) PC-CONTEMPT:DISOBEY COURT ORDER/ETC", "M"),
    ("484(A) PC-THEFT OF PERSONAL PROPERTY", "M"),
    ("488 PC-PETTY THEFT", "M"),
    ("496(A) PC-RECEIVE/ETC KNOWN STOLEN PROPERTY", "F"),
    ("666 PC-PETTY THEFT W/PR JAIL:SPEC OFFENSES", "F"),
    ("647(B) PC-DISORDERLY CONDUCT:PROSTITUTION", "M"),
    ("853.7 PC-FAIL TO APPEAR AFTER WRITTEN PROMISE", "M"),
    ("3056 PC-VIOLATION OF PAROLE:FELONY", "F"),
    ("25620 BP-POSS OPEN CONTAINER OF ALCOHOL:PUBLIC", "I"),
    ("215(A) PC-CARJACKING", "F"),
    ("246 PC-SHOOT AT INHABITED DWELLING/VEHICLE", "F"),
    ("136.1(B)(1) PC-ATTEMPT DISSUADE WITNESS FROM REPORT", "F"),
))
# Super strikes only together with the gang enhancement in the same case.
GANG_CONDITIONAL = frozenset(("215(A) PC-CARJACKING", "246 PC-SHOOT AT INHABITED DWELLING/VEHICLE",
                              "136.1(B)(1) PC-ATTEMPT DISSUADE WITNESS FROM REPORT"))
GANG_ENHANCEMENT = Charge("186.22(B)(4) PC-CRIMINAL STREET GANG:ENHANCEMENT", "F", "other")
SUPER_STRIKES = _charges("super", (
    ("187 PC-MURDER", "F"),
    ("187(A) PC-MURDER", "F"),
    ("187 PC-MURDER:SECOND DEGREE", "F"),
    ("245(D)(3) PC-ADW:MACHINEGUN/ASSAULT WEAPON:PEACE OFFICER", "F"),
    ("207(A) PC-KIDNAPPING", "F"),
    ("209(B)(1) PC-KIDNAP FOR ROBBERY/RAPE/ETC", "F"),
    ("191.5(A) PC-GROSS VEH MANSLAUGHTER WHILE INTOX", "F"),
    ("451.5 PC-AGGRAVATED ARSON", "F"),
    ("653F(B) PC-SOLICIT MURDER", "F"),
    ("4500 PC-ASSAULT W/DEADLY WEAPON BY LIFE PRISONER", "F"),
    ("37 PC-TREASON", "F"),
)) + _charges("super", (
    ("288(A) PC-LEWD OR LASCIV ACTS W/CHILD UNDER 14", "F"),
    ("261(A)(2) PC-RAPE BY FORCE/FEAR/ETC", "F"),
    ("269(A)(1) PC-AGGRAVATED SEXUAL ASSAULT OF CHILD", "F"),
    ("288.5(A) PC-CONTINUOUS SEXUAL ABUSE OF CHILD", "F"),
), registrable=True)
SEX_OFFENSES = _charges("sex", (
    ("243.4(A) PC-SEXUAL BATTERY", "M"),
    ("314(1) PC-INDECENT EXPOSURE", "M"),
    ("647.6(A) PC-ANNOY/MOLEST CHILD", "M"),
    ("311.11(A) PC-POSS/ETC OBSCENE MATTER:MINOR", "F"),
    ("266H(B)(1) PC-PIMPING:MINOR UNDER 16", "F"),
    ("262(A)(1) PC-RAPE OF SPOUSE BY FORCE/ETC", "F"),
    ("288A(B)(1) PC-ORAL COPULATION W/PERSON UNDER 18", "F"),
    ("288 PC-LEWD OR LASCIVIOUS ACTS", "F"),
    ("286(B)(1) PC-SODOMY W/PERSON UNDER 18", "F"),
), registrable=True)
REGISTRATIONS = _charges("registration", (
    ("290 PC-REGISTRATION OF SEX OFFENDER", ""),
    ("290 PC-SEX OFFENDER REGISTRATION", ""),
))
PROBATION_VIOLATION = Charge("1203.2 PC-PROBATION VIOL:REARREST/REVOKE", "M", "other")
# Category draw for non-Prop-64 charges: (charges, cumulative weight).
NON_PROP64_KINDS = ((OTHER_CHARGES, 74), (RELATED_CHARGES, 94), (SUPER_STRIKES, 97), (SEX_OFFENSES, 100))
# Per-person share of Prop 64 charges: most people rarely, some often (repeat priors happen).
PROP64_PROPENSITY = ((0.04, 55), (0.2, 85), (0.55, 100))
OTHER_COMMENTS = ("PER CT ORDER", "DOCKET UPDATED", "AMENDED COMPLAINT", "DEFT STATED \"NOT MINE\"",
                  "PRIOR ALLEGED", "NULL")

STATUS_OF_TOC = {"F": ("F", "FELONY"), "M": ("M", "MISDEMEANOR"), "I": ("I", "INFRACTION")}
TIME_UNITS = {"D": "DAYS      ", "M": "MONTHS    ", "Y": "YEARS     "}  # fixed width, as delivered

# ---------------------------------------------------------------------------------------------
# Random draws: Random.choice/randrange/choices cost 4-6x these on the hot path. The float
# draws are uniform enough for synthetic data and, like Random, reproducible from the seed.
# ---------------------------------------------------------------------------------------------


def below(rng: Random, n: int) -> int:
    return int(rng.random() * n)


def ranged(rng: Random, low: int, high: int) -> int:
    """An int in [low, high)."""
    return low + int(rng.random() * (high - low))


def between(rng: Random, low: int, high: int) -> int:
    """An int in [low, high]."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: Random, seq):
    return seq[int(rng.random() * len(seq))]


def weighted(rng: Random, seq, cum_weights):
    return seq[bisect_right(cum_weights, rng.random() * cum_weights[-1])]


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_FIRST_DAY = date(1925, 1, 1).toordinal()
# Formatting dates is the hot path: look them up instead of calling strftime per row.
_YMD = tuple(date.fromordinal(o).strftime("%Y%m%d") for o in range(_FIRST_DAY, EXTRACT_END + 1))


def ymd(ordinal: int) -> str:
    return _YMD[ordinal - _FIRST_DAY]


def unusable_date(rng: Random, ordinal: int) -> str:
    """A date value the DOJ file really holds but that is no usable date."""
    year = ymd(ordinal)[:4]
    return pick(rng, ("", "00000000", f"{year}0000", f"{year}0231", f"{year}1301"))


def years(n: float) -> int:
    return int(n * 365.25)


# ---------------------------------------------------------------------------------------------
# People and their histories
# ---------------------------------------------------------------------------------------------


class Place(NamedTuple):
    county: str
    county_code: str
    california: bool


class Person(NamedTuple):
    base: list  # a row template holding the person's columns
    dob: int  # date ordinal
    home: Place
    prop64_share: float
    blank: str  # how this person's record says "no value": "" or the dash placeholder
    deceased: bool


CA_PLACES = tuple(Place(name, f"{i + 1:02d}", True) for i, name in enumerate(CA_COUNTIES))
JUNK_PLACES = tuple(Place(name, "", False) for name in JUNK_COUNTIES)


def draw_county(rng: Random) -> Place:
    return weighted(rng, CA_PLACES, COUNTY_CUM_WEIGHTS)


def cycle_place(rng: Random, home: Place) -> Place:
    """Most cycles happen in the home county; some elsewhere (statewide histories)."""
    r = rng.random()
    if r < 0.005:
        return pick(rng, JUNK_PLACES)
    return home if r < 0.8 else draw_county(rng)


def person_name(rng: Random, male: bool) -> str:
    first = pick(rng, MALE_FIRST_NAMES if male else FEMALE_FIRST_NAMES)
    last = pick(rng, LAST_NAMES)
    if rng.random() < 0.2:
        return f"{last},{first}"
    return f"{last},{first} {pick(rng, INITIALS)}"


def new_person(rng: Random, subject_id: int) -> Person:
    blank = PLACEHOLDER if rng.random() < 0.12 else ""
    row = [blank] * N_COLUMNS
    for i in SEPARATOR_COLUMNS:
        row[i] = "#"
    male = rng.random() < 0.78
    # Born 1940-2006, most arrests of people born 1960-1995.
    dob = date(int(rng.triangular(1940, 2006.9, 1980)), 1, 1).toordinal() + below(rng, 365)
    row[COL.SUBJECT_ID] = str(subject_id)
    row[COL.CII_NUMBER] = str(ranged(rng, 10**9, 10**10))
    row[COL.PRI_NAME] = person_name(rng, male)
    row[COL.GENDER] = "M" if male else "F"
    row[COL.PRI_DOB] = unusable_date(rng, dob) if rng.random() < 0.004 else ymd(dob)
    # 9xx-xx-xxxx numbers were never issued: fictional by construction.
    row[COL.PRI_SSN] = f"9{below(rng, 10**8):08d}" if rng.random() < 0.7 else blank
    row[COL.PRI_CDL] = f"{pick(rng, 'ABDFNVY')}{below(rng, 10**7):07d}".ljust(pick(rng, (8, 10)))
    row[COL.FBI_NUMBER] = person_fbi_number(rng, blank)
    race_code, race, _ = weighted(rng, RACES, RACE_CUM_WEIGHTS)
    row[COL.RACE_CODE], row[COL.RACE_DESCR] = race_code, race
    row[COL.EYE_COLOR_CODE], row[COL.EYE_COLOR_DESCR] = pick(rng, EYES)
    row[COL.HAIR_COLOR_CODE], row[COL.HAIR_COLOR_DESCR] = pick(rng, HAIR)
    row[COL.HEIGHT] = f"{between(rng, 5, 6)}{below(rng, 12):02d}"
    row[COL.WEIGHT] = str(between(rng, 110, 280))
    row[COL.POB_CODE], row[COL.POB_NAME], row[COL.POB_TYPE] = pick(rng, BIRTHPLACES)
    born_abroad = row[COL.POB_TYPE] == "C"
    row[COL.CITIZENSHIP_LIST] = pick(rng, ("", "US", row[COL.POB_CODE])) if born_abroad else "US"
    r = rng.random()
    share = next(s for s, cum in PROP64_PROPENSITY if r * 100 < cum)
    return Person(row, dob, draw_county(rng), share, blank, rng.random() < 0.03)


def person_fbi_number(rng: Random, blank: str) -> str:
    r = rng.random()
    if r < 0.05:
        return "NULL"
    if r < 0.35:
        return f"{below(rng, 10**6):06d}{pick(rng, 'ABCDEFHJKL')}{below(rng, 10)}"
    return blank


def draw_charge(rng: Random, person: Person, day: int) -> Charge:
    # After Prop 64 took effect, marijuana convictions became rare.
    prop64_share = person.prop64_share if day < PROP64_DAY else person.prop64_share * 0.08
    if rng.random() < prop64_share:
        return draw_prop64_charge(rng, day)
    r = rng.random() * 100
    charges = next(c for c, cum in NON_PROP64_KINDS if r < cum)
    return pick(rng, charges)


def draw_prop64_charge(rng: Random, day: int) -> Charge:
    if rng.random() < 0.07:
        charge = attempt_charge(rng)
    else:
        charge = weighted(rng, PROP64_CHARGES, PROP64_CUM_WEIGHTS)
    if day >= PROP64_DAY:  # sentenced under the new law: infractions and misdemeanors
        toc = "I" if charge.text.startswith("11357") or rng.random() < 0.1 else "M"
        charge = charge._replace(toc=toc if rng.random() < 0.95 else "F")
    return charge


def attempt_charge(rng: Random) -> Charge:
    section, subsections, what, toc = pick(rng, ATTEMPT_BASES)
    separator = pick(rng, ATTEMPT_SEPARATORS)
    text = f"664{separator}{section}{pick(rng, subsections)} HS-ATTEMPT {what}"
    return Charge(text, toc, "prop64")


def prop64_section(text: str) -> str:
    """The five-digit section of a Prop 64 charge text, attempts included."""
    return text[3:].lstrip("/.-")[:5] if text.startswith("664") else text[:5]


def other_prop64_text(rng: Random, text: str) -> str:
    """A Prop 64 charge text naming a different section, for 'Possible Other P64 Charges'."""
    section = prop64_section(text)
    while True:
        other = pick(rng, PROP64_CHARGES).text
        if other[:5] != section:
            return other


def cycle_charges(rng: Random, person: Person, day: int) -> list[Charge]:
    """The counts of one arrest: related charges come together (e.g. 11359 with 11364)."""
    n = weighted(rng, (1, 2, 3, 4), (55, 83, 95, 100))
    first = draw_charge(rng, person, day)
    charges = [first]
    for _ in range(n - 1):
        if first.kind == "prop64" and rng.random() < 0.4:
            related = rng.random() < 0.6
            charges.append(pick(rng, RELATED_CHARGES) if related else draw_prop64_charge(rng, day))
        else:
            charges.append(draw_charge(rng, person, day))
    if first.text in GANG_CONDITIONAL and rng.random() < 0.3:
        charges.append(GANG_ENHANCEMENT)
    return charges


def history(rng: Random, person: Person) -> Iterator[list]:
    """Yield every row of one person's record, in record order (cycle, step, count)."""
    day = min(person.dob + years(18) + int(rng.expovariate(1 / years(6))),
              EXTRACT_END - ranged(rng, 30, 400))
    n_cycles = min(1 + int(rng.expovariate(1 / 1.6)), 14)
    cycle = 0
    for _ in range(n_cycles):
        if day > EXTRACT_END:
            break
        place = cycle_place(rng, person.home)
        cycle += 1
        registration_day = yield from offense_cycle(rng, person, cycle, place, day)
        if registration_day and rng.random() < 0.7:  # registered on release; some never are
            cycle += 1
            yield from registration_cycle(rng, person, cycle, place, registration_day)
        day += 30 + int(rng.expovariate(1 / years(2.5)))
    if person.deceased:
        # Later than any court date of the last cycle (those come at most ~1,500 days after it).
        death = min(day + ranged(rng, 1500, 4000), EXTRACT_END)
        yield from deceased_cycle(rng, person, cycle + 1, person.home, death)


class StepType(NamedTuple):
    code: str
    descr: str


class Agency(NamedTuple):
    type: str
    type_descr: str
    prefix: str  # agency names read "<prefix> <county>"


ARREST = StepType("A", "ARREST/DETAINED/CITED")
COURT = StepType("C", "COURT ACTION")
REGISTRATION = StepType("R", "REGISTRATION")
DECEASED = StepType("D", "DECEASED")
ARREST_AGENCIES = (Agency("PD", "POLICE DEPARTMENT", "CAPD"), Agency("SO", "SHERIFF OFFICE", "CASO"),
                   Agency("HP", "HIGHWAY PATROL", "CAHP"))
COURT_AGENCY = Agency("SC", "SUPERIOR COURT", "CASC")
SHERIFF = ARREST_AGENCIES[1]
CORONER = Agency("CO", "CORONER", "CACO")


def step_row(rng: Random, person: Person, place: Place, agency: Agency, step_type: StepType,
             cycle: int, step: int, day: int, cycle_day: int) -> list:
    """A row template with the cycle and step columns set (counts fill in the rest)."""
    row = person.base.copy()
    row[COL.CYC_ORDER] = str(cycle)
    row[COL.CYC_DATE] = ymd(cycle_day)
    row[COL.STP_ORDER] = str(step)
    row[COL.STP_EVENT_DATE] = unusable_date(rng, day) if rng.random() < 0.003 else ymd(day)
    row[COL.STP_TYPE_CODE] = step_type.code
    row[COL.STP_TYPE_DESCR] = step_type.descr
    row[COL.STP_ORI_CNTY_NAME] = place.county
    row[COL.STP_ORI_CNTY_CODE] = place.county_code
    row[COL.STP_ORI_TYPE] = agency.type
    row[COL.STP_ORI_TYPE_DESCR] = agency.type_descr
    if place.california:  # ORI: CA0 + county code + agency number; courts end in J
        suffix = "J0" if agency is COURT_AGENCY else "00"
        row[COL.STP_ORI_CODE] = f"CA0{place.county_code}{below(rng, 100):02d}{suffix}"
        row[COL.STP_ORI_DESCR] = f"{agency.prefix} {place.county}"
    else:
        row[COL.STP_ORI_CODE] = person.blank
        row[COL.STP_ORI_DESCR] = "OUT OF STATE AGENCY" if place.county else person.blank
    row[COL.CYC_AGE] = str(max(0, (day - person.dob) // 365))
    return row


def count_row(rng: Random, step: list, person: Person, order: str, charge: Charge,
              vary: bool = True) -> list:
    """One count of a step: the charge text (or a comment holding it) and its charge type."""
    row = step.copy()
    row[COL.CNT_ORDER] = order
    text, comment = charge.text, person.blank
    r = rng.random() if vary else 1.0
    if r < 0.04:  # the charge is only in the comment (a third of these with a blank offense)
        text, comment = pick(rng, ("", "SEE COMMENT FOR CHARGE", "SEE COMMENT FOR CHARGE")), charge.text
    elif charge.kind == "prop64" and r < 0.07:
        comment = other_prop64_text(rng, charge.text)
    elif r < 0.10:
        comment = pick(rng, OTHER_COMMENTS)
    elif r < 0.12:
        text += "  "  # trailing padding, as fixed-width exports leave it
    row[COL.OFFENSE_DESCR] = text
    row[COL.COMMENT_TEXT] = comment
    row[COL.OFFENSE_TOC] = charge.toc
    row[COL.OFFENSE_QUAL_LST] = " " * below(rng, 30) if rng.random() < 0.3 else person.blank
    for i in (COL.OFN, COL.DISP_DESCR, COL.DISP_DATE, COL.SENT_LENGTH, COL.SENT_TIME_CODE):
        row[i] = ""
    return row


def set_status(rng: Random, row: list, toc: str) -> None:
    """CONV_STAT_* follows the charge type, sometimes reduced, sometimes blank (TOC decides)."""
    r = rng.random()
    if r < 0.05 or not toc:
        row[COL.CONV_STAT_CODE], row[COL.CONV_STAT_DESCR] = "", ""
        return
    if toc == "F" and r < 0.2:
        toc = "M"  # a wobbler convicted as a misdemeanor
    elif toc == "M" and r < 0.08:
        toc = pick(rng, "FI")
    row[COL.CONV_STAT_CODE], row[COL.CONV_STAT_DESCR] = STATUS_OF_TOC[toc]


def cnt_order(cycle: int, step: int, count: int) -> str:
    return f"{cycle:03d}{step:03d}{count:03d}000"


def offense_cycle(rng: Random, person: Person, cycle: int, place: Place, day: int):
    """An arrest and (usually) its court action. Returns the day the person registers under
    PC 290 when a registrable offense was convicted, else None."""
    charges = cycle_charges(rng, person, day)
    yield from arrest_step(rng, person, place, cycle, day, charges)
    if rng.random() > 0.85:  # no court action on record
        return None
    court_day = min(day + below(rng, 400), EXTRACT_END)
    step = step_row(rng, person, place, COURT_AGENCY, COURT, cycle, 2, court_day, day)
    case = case_number(rng)
    registrable = convicted_any = False
    for count, charge in enumerate(charges, 1):
        order = cnt_order(cycle, 2, count)
        convicted = yield from court_count(rng, step, person, order, charge, case, court_day)
        registrable |= convicted and charge.registrable
        convicted_any |= convicted
    if convicted_any and rng.random() < 0.08:  # a later probation violation, same cycle
        later = min(court_day + ranged(rng, 200, 1100), EXTRACT_END)
        step = step_row(rng, person, place, COURT_AGENCY, COURT, cycle, 3, later, day)
        yield from court_count(rng, step, person, cnt_order(cycle, 3, 1), PROBATION_VIOLATION,
                               case_number(rng), later)
    return min(court_day + ranged(rng, 30, 365), EXTRACT_END) if registrable else None


def arrest_step(rng: Random, person: Person, place: Place, cycle: int, day: int, charges: list):
    step = step_row(rng, person, place, pick(rng, ARREST_AGENCIES), ARREST, cycle, 1, day, day)
    for count, charge in enumerate(charges, 1):
        row = count_row(rng, step, person, cnt_order(cycle, 1, count), charge)
        set_status(rng, row, charge.toc)
        if rng.random() < 0.05:
            row[COL.DISP_DESCR] = "REL/TOT OTHER JURIS/AUTH"
        yield row


def case_number(rng: Random) -> str:
    if rng.random() < 0.6:
        return f"{below(rng, 10**8):08d}"
    return f"{pick(rng, ('BA', 'CR', 'SF', 'VA', 'MA', 'LA'))}{below(rng, 10**6):06d}"


DISPOSITIONS = ("CONVICTED-JAIL", "CONVICTED-PROBATION", "CONVICTED-PRISON", "DISMISSED/CHARGE",
                "REL/TOT OTHER JURIS/AUTH", "")
DISPOSITION_CUM_WEIGHTS = (25, 50, 56, 86, 91, 100)


def court_count(rng: Random, step: list, person: Person, order: str, charge: Charge, case: str,
                day: int):
    """A court count with its disposition; a conviction may span sentence continuation rows."""
    row = count_row(rng, step, person, order, charge)
    set_status(rng, row, charge.toc)
    row[COL.OFN] = case_ofn(rng, case)
    r = rng.random()
    row[COL.DISP_DATE] = ymd(day) if r < 0.7 else ("" if r < 0.9 else ymd(min(day + 30, EXTRACT_END)))
    row[COL.DISP_CODE] = " " * ranged(rng, 1, 25) if rng.random() < 0.3 else person.blank
    disposition = weighted(rng, DISPOSITIONS, DISPOSITION_CUM_WEIGHTS)
    if disposition == "CONVICTED-PRISON" and row[COL.CONV_STAT_DESCR] not in ("FELONY", ""):
        disposition = "CONVICTED-JAIL"  # prison follows felonies only
    row[COL.DISP_DESCR] = disposition
    if not disposition.startswith("CONVICTED"):
        yield row
        return False
    parts = sentence_parts(rng, disposition)
    if not parts:
        yield row
        return True
    for n, (where, length, unit) in enumerate(parts, 1):
        part = row.copy()
        part[COL.SENT_ORDER] = str(n)
        part[COL.SENT_LOC_CODE], part[COL.SENT_LOC_DESCR] = where[0], where
        part[COL.SENT_LENGTH] = str(length)
        part[COL.SENT_TIME_CODE], part[COL.SENT_TIME_DESCR] = unit, TIME_UNITS[unit]
        yield part
    return True


def case_ofn(rng: Random, case: str) -> str:
    r = rng.random()
    if r < 0.02:
        return "NULL" if r < 0.01 else "NULL  "
    if r < 0.1:
        return case_number(rng)  # a second case number for the same case key
    return case


def sentence_parts(rng: Random, disposition: str) -> list[tuple[str, int, str]]:
    """(place, length, unit) of each sentence row; more than one means continuation rows."""
    if rng.random() < 0.08:
        return []
    if disposition == "CONVICTED-JAIL":
        parts = [jail_term(rng)]
        if rng.random() < 0.4:
            parts.append(probation_term(rng))
    elif disposition == "CONVICTED-PROBATION":
        parts = [probation_term(rng)]
        if rng.random() < 0.3:
            parts.append(jail_term(rng))
    else:
        parts = [prison_term(rng)]
        if rng.random() < 0.1:
            parts.append(("PRISON", between(rng, 1, 3), "Y"))  # a consecutive term
    if rng.random() < 0.05:
        parts.append(jail_term(rng))
    return parts


def prison_term(rng: Random) -> tuple[str, int, str]:
    if rng.random() < 0.7:
        return ("PRISON", between(rng, 1, 8), "Y")
    return ("PRISON", pick(rng, (16, 24, 32)), "M")  # the 16/2/3 triad in months


def jail_term(rng: Random) -> tuple[str, int, str]:
    if rng.random() < 0.7:
        return ("JAIL", between(rng, 1, 365), "D")
    return ("JAIL", between(rng, 1, 12), "M")


def probation_term(rng: Random) -> tuple[str, int, str]:
    if rng.random() < 0.6:
        return ("PROBATION", between(rng, 12, 60), "M")
    return ("PROBATION", between(rng, 1, 5), "Y")


def registration_cycle(rng: Random, person: Person, cycle: int, place: Place, day: int):
    step = step_row(rng, person, place, SHERIFF, REGISTRATION, cycle, 1, day, day)
    yield single_count_row(rng, step, person, cycle, pick(rng, REGISTRATIONS))


def deceased_cycle(rng: Random, person: Person, cycle: int, place: Place, day: int):
    step = step_row(rng, person, place, CORONER, DECEASED, cycle, 1, day, day)
    yield single_count_row(rng, step, person, cycle, Charge("", "", "death"))


def single_count_row(rng: Random, step: list, person: Person, cycle: int, charge: Charge) -> list:
    """The one count of a registration or death notice: no disposition, no charge status."""
    row = count_row(rng, step, person, cnt_order(cycle, 1, 1), charge, vary=False)
    row[COL.CONV_STAT_CODE] = row[COL.CONV_STAT_DESCR] = ""
    return row


# ---------------------------------------------------------------------------------------------
# Bad lines (CSV only)
# ---------------------------------------------------------------------------------------------


class BadLine(NamedTuple):
    text: str  # one physical line, without the line end
    kind: str  # one of BAD_KINDS
    detail: str


def csv_line(fields: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()[:-1]


def bad_line(seed: int, number: int) -> BadLine:
    """Bad line `number`: kinds take turns, so 3K lines hold exactly K of each kind."""
    rng = Random(f"clearsweep-generate:{seed}:bad:{number}")
    fields = next(history(rng, new_person(rng, BAD_SUBJECT_ID + number)))
    kind = BAD_KINDS[number % len(BAD_KINDS)]
    first_variant = (number // len(BAD_KINDS)) % 2 == 0
    if kind == "field_count":
        if first_variant:
            del fields[COL.REQ_SSN]
            return BadLine(csv_line(fields), kind, "94 fields")
        fields.insert(COL.PRI_NAME + 1, "")
        return BadLine(csv_line(fields), kind, "96 fields")
    if kind == "quoting":
        return BadLine(unclosed_quote_line(fields), kind, "unclosed quote")
    if first_variant:
        fields[COL.SUBJECT_ID] = ""
        return BadLine(csv_line(fields), kind, "blank SUBJECT_ID")
    fields[COL.CNT_ORDER] = fields[COL.CNT_ORDER][:9]
    return BadLine(csv_line(fields), kind, "CNT_ORDER not 12 digits")


def unclosed_quote_line(fields: list) -> str:
    """The name's quote is opened and never closed. Placed early, so that even a lenient
    parser (which reads on to the line end) finds far fewer than 95 fields."""
    head = csv_line(fields[:COL.PRI_NAME])
    tail = ",".join(f.replace('"', "").replace(",", " ") for f in fields[COL.PRI_NAME + 1:])
    return f'{head},"{fields[COL.PRI_NAME]},{tail}'


def bad_positions(seed: int, rows: int, per_kind: int) -> list[tuple[int, int]]:
    """(good rows before it, bad line number) for every bad line, in output order."""
    rng = Random(f"clearsweep-generate:{seed}:bad-positions")
    return sorted((between(rng, 0, rows), number) for number in range(len(BAD_KINDS) * per_kind))


# ---------------------------------------------------------------------------------------------
# Chunks: the unit of work, seeded from (seed, chunk index) only
# ---------------------------------------------------------------------------------------------


class ChunkTask(NamedTuple):
    seed: int
    index: int
    rows: int  # good rows in this chunk
    files: int
    format: str
    bad: tuple  # (good rows of this chunk before it, bad line number), in order


class FilePart(NamedTuple):
    data: object  # CSV bytes, or a pyarrow Table
    rows: int  # good rows
    lines: int  # physical lines: good rows and bad lines
    bad: tuple  # (0-based line within this part, kind, detail)


class ChunkResult(NamedTuple):
    parts: list  # one FilePart per output file
    people: int
    counties: dict  # STP_ORI_CNTY_NAME value -> rows


# Columns before CYC_ORDER describe the person and are the same on all of a person's rows.
EVENT_START = COL.CYC_ORDER
EVENT_COMMAS = N_COLUMNS - EVENT_START - 1


class CsvEncoder:
    """RFC 4180 lines, quoting only where needed. csv.writer costs ~7 us a row; here the
    person's columns are encoded once per person and the event columns take a plain join
    unless they hold a comma or a quote (rare), which falls back to csv.writer."""

    def __init__(self):
        self.subject = None
        self.prefix = ""

    def line(self, row: list) -> str:
        if row[COL.SUBJECT_ID] != self.subject:
            self.subject = row[COL.SUBJECT_ID]
            self.prefix = csv_line(row[:EVENT_START])
        events = ",".join(row[EVENT_START:])
        if events.count(",") != EVENT_COMMAS or '"' in events or "\n" in events or "\r" in events:
            events = csv_line(row[EVENT_START:])
        return f"{self.prefix},{events}\n"


class CsvParts:
    """One chunk's lines for each output file."""

    def __init__(self, files: int):
        self.buffers = [io.StringIO() for _ in range(files)]
        self.encoder = CsvEncoder()
        self.rows = [0] * files
        self.lines = [0] * files
        self.bad = [[] for _ in range(files)]

    def add(self, file: int, row: list) -> None:
        self.buffers[file].write(self.encoder.line(row))
        self.rows[file] += 1
        self.lines[file] += 1

    def add_bad(self, file: int, bad: BadLine) -> None:
        self.bad[file].append((self.lines[file], bad.kind, bad.detail))
        self.buffers[file].write(bad.text + "\n")
        self.lines[file] += 1

    def parts(self) -> list[FilePart]:
        return [FilePart(b.getvalue().encode("utf-8"), r, n, tuple(bad))
                for b, r, n, bad in zip(self.buffers, self.rows, self.lines, self.bad)]


class ParquetParts:
    def __init__(self, files: int):
        self.rows = [[] for _ in range(files)]

    def add(self, file: int, row: list) -> None:
        self.rows[file].append(row)

    def add_bad(self, file: int, bad: BadLine) -> None:
        raise AssertionError("bad lines are CSV only")

    def parts(self) -> list[FilePart]:
        return [FilePart(arrow_table(rows), len(rows), len(rows), ()) for rows in self.rows]


def arrow_schema():
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in DOJ_COLUMNS])


def arrow_table(rows: list):
    import pyarrow as pa

    schema = arrow_schema()
    if not rows:
        return schema.empty_table()
    columns = [pa.array(column, type=pa.string()) for column in zip(*rows)]
    return pa.Table.from_arrays(columns, schema=schema)


def generate_chunk(task: ChunkTask) -> ChunkResult:
    """Generate one chunk's people until it holds exactly task.rows good rows (the last
    person's history is cut there, as split extracts cut it too)."""
    rng = Random(f"clearsweep-generate:{task.seed}:chunk:{task.index}")
    # File routing has its own stream: the rows are the same whatever --files is.
    route = Random(f"clearsweep-generate:{task.seed}:files:{task.index}")
    parts = CsvParts(task.files) if task.format == "csv" else ParquetParts(task.files)
    bad = deque(task.bad)
    counties: Counter = Counter()
    written = people = 0
    while written < task.rows:
        person = new_person(rng, FIRST_SUBJECT_ID + task.index * CHUNK_ROWS + people)
        people += 1
        home_file = below(route, task.files)
        cycle, file = None, home_file
        for row in history(rng, person):
            while bad and bad[0][0] == written:
                parts.add_bad(below(route, task.files), bad_line(task.seed, bad.popleft()[1]))
            if row[COL.CYC_ORDER] != cycle:  # whole cycles move: a history spans files
                cycle = row[COL.CYC_ORDER]
                file = home_file if route.random() < 0.8 else below(route, task.files)
            parts.add(file, row)
            counties[row[COL.STP_ORI_CNTY_NAME]] += 1
            written += 1
            if written == task.rows:
                break
    for _, number in bad:  # after the last good row: the last chunk only
        parts.add_bad(below(route, task.files), bad_line(task.seed, number))
    return ChunkResult(parts.parts(), people, dict(counties))


# ---------------------------------------------------------------------------------------------
# Plan, parallel run, output files
# ---------------------------------------------------------------------------------------------


class Plan(NamedTuple):
    rows: int
    seed: int
    format: str
    out: Path
    header: bool
    bad_per_kind: int
    files: int
    workers: int

    @property
    def chunks(self) -> int:
        return -(-self.rows // CHUNK_ROWS)

    def file_names(self) -> list[str]:
        return [f"extract-{i:05d}.{self.format}" for i in range(self.files)]


def chunk_tasks(plan: Plan) -> Iterator[ChunkTask]:
    bad = bad_positions(plan.seed, plan.rows, plan.bad_per_kind)
    for index in range(plan.chunks):
        start = index * CHUNK_ROWS
        rows = min(CHUNK_ROWS, plan.rows - start)
        end = start + rows if index < plan.chunks - 1 else plan.rows + 1
        mine = bad[bisect_left(bad, (start, -1)):bisect_left(bad, (end, -1))]
        yield ChunkTask(plan.seed, index, rows, plan.files, plan.format,
                        tuple((pos - start, number) for pos, number in mine))


def run_chunks(tasks: Iterator[ChunkTask], workers: int) -> Iterator[ChunkResult]:
    """Chunk results in chunk order. At most 2 x workers chunks are in flight, so memory
    stays bounded however many rows are asked for."""
    if workers <= 1:
        yield from map(generate_chunk, tasks)
        return
    # forkserver: never fork a parent that may hold threads (a Spark gateway, a test runner).
    with multiprocessing.get_context("forkserver").Pool(workers) as pool:
        window = deque(pool.apply_async(generate_chunk, (t,)) for t in islice(tasks, 2 * workers))
        while window:
            result = window.popleft().get()
            window.extend(pool.apply_async(generate_chunk, (t,)) for t in islice(tasks, 1))
            yield result


class CsvOutput:
    def __init__(self, plan: Plan):
        self.names = plan.file_names()
        self.handles = [open(plan.out / name, "wb") for name in self.names]
        self.lines = [0] * plan.files  # physical lines written so far, header included
        self.rows = [0] * plan.files
        self.bad_lines: list[dict] = []
        if plan.header:
            for handle in self.handles:
                handle.write((",".join(DOJ_COLUMNS) + "\n").encode("ascii"))
            self.lines = [1] * plan.files

    def write(self, result: ChunkResult) -> None:
        for i, part in enumerate(result.parts):
            for line, kind, detail in part.bad:
                self.bad_lines.append({"file": self.names[i], "line": self.lines[i] + line + 1,
                                       "kind": kind, "detail": detail})
            self.handles[i].write(part.data)
            self.lines[i] += part.lines
            self.rows[i] += part.rows

    def close(self) -> None:
        for handle in self.handles:
            handle.close()

    def file_entries(self) -> list[dict]:
        bad = Counter(b["file"] for b in self.bad_lines)
        return [{"name": n, "rows": r, "bad_lines": bad[n], "physical_lines": l}
                for n, r, l in zip(self.names, self.rows, self.lines)]


class ParquetOutput:
    def __init__(self, plan: Plan):
        import pyarrow.parquet as pq

        self.names = plan.file_names()
        self.writers = [pq.ParquetWriter(plan.out / name, arrow_schema()) for name in self.names]
        self.rows = [0] * plan.files
        self.bad_lines: list[dict] = []

    def write(self, result: ChunkResult) -> None:
        for i, part in enumerate(result.parts):
            if part.rows:  # one row group per chunk part
                self.writers[i].write_table(part.data)
                self.rows[i] += part.rows

    def close(self) -> None:
        for writer in self.writers:
            writer.close()

    def file_entries(self) -> list[dict]:
        return [{"name": n, "rows": r, "bad_lines": 0} for n, r in zip(self.names, self.rows)]


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_from_args(args: argparse.Namespace) -> Plan:
    if args.rows < 1:
        raise UserError("--rows must be at least 1")
    if not 1 <= args.files <= MAX_FILES:
        raise UserError(f"--files must be between 1 and {MAX_FILES}")
    if not 0 <= args.bad_rows <= MAX_BAD_ROWS:
        raise UserError(f"--bad-rows must be between 0 and {MAX_BAD_ROWS}")
    if args.format != "csv" and args.bad_rows:
        raise UserError("--bad-rows needs --format csv (bad lines are a CSV-file problem)")
    if args.format != "csv" and not args.header:
        raise UserError("--no-header applies to --format csv only")
    workers = default_workers() if args.workers is None else args.workers
    if workers < 1:
        raise UserError("--workers must be at least 1")
    plan = Plan(args.rows, args.seed, args.format, Path(args.out), args.header, args.bad_rows,
                args.files, workers)
    return plan._replace(workers=min(workers, plan.chunks))


def prepare_out_dir(out: Path) -> None:
    """Create DIR; refuse one that already holds generated output rather than mixing two."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out is not a directory: {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out directory {out}: {exc.strerror}") from None
    stale = sorted(p.name for p in out.iterdir()
                   if p.name.startswith("extract-") or p.name in ("manifest.json", "bad_rows.json"))
    if stale:
        raise UserError(f"--out {out} already holds generated files (e.g. {stale[0]}); "
                        "use an empty directory")


def write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def county_counts(counties: Counter) -> tuple[dict, dict]:
    """Rows per California county (all 58, zeros included) and per other value."""
    california = {name: counties.get(name, 0) for name in CA_COUNTIES}
    other = {name: n for name, n in sorted(counties.items()) if name not in COUNTY_POPULATION}
    return california, other


def write_reports(plan: Plan, output, people: int, counties: Counter) -> dict:
    """DIR/manifest.json: seed, format, header, rows, bad_lines, people, files (name, rows,
    bad_lines, physical_lines), rows_per_county (all 58) and rows_per_other_county_value.
    DIR/bad_rows.json (CSV): {"per_kind": K, "bad_rows": [{"file", "line", "kind", "detail"}]}
    with the 1-based physical line in that file (the header is line 1 when present) and kind
    field_count | quoting | bad_value, sorted by file and line."""
    california, other = county_counts(counties)
    manifest = {
        "generator": "clearsweep generate",
        "seed": plan.seed,
        "format": plan.format,
        "header": plan.header,
        "rows": plan.rows,
        "bad_lines": len(output.bad_lines),
        "people": people,
        "files": output.file_entries(),
        "rows_per_county": california,
        "rows_per_other_county_value": other,
    }
    write_json(plan.out / "manifest.json", manifest)
    if plan.format == "csv":
        bad = sorted(output.bad_lines, key=lambda b: (b["file"], b["line"]))
        write_json(plan.out / "bad_rows.json", {"per_kind": plan.bad_per_kind, "bad_rows": bad})
    return manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, required=True, metavar="N",
                        help="good data lines to write (bad lines from --bad-rows come on top)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed; the same seed gives byte-identical output (default 0)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv",
                        help="DOJ-style CSV, or parquet with all 95 columns as strings (default csv)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output directory (created; must not hold generated files already)")
    parser.add_argument("--no-header", dest="header", action="store_false",
                        help="CSV without the header line")
    parser.add_argument("--bad-rows", type=int, default=0, metavar="K",
                        help="CSV only: add K bad lines of each kind (field_count, quoting, bad_value), "
                             "listed in DIR/bad_rows.json")
    parser.add_argument("--files", type=int, default=1, metavar="F",
                        help="split the output over F files; a person's rows may span files (default 1)")
    parser.add_argument("--workers", type=int, default=None, metavar="W",
                        help="worker processes (default: all usable CPUs); output does not depend on it")


def main(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    prepare_out_dir(plan.out)
    people, counties = 0, Counter()
    output = CsvOutput(plan) if plan.format == "csv" else ParquetOutput(plan)
    try:
        for result in run_chunks(chunk_tasks(plan), plan.workers):
            output.write(result)
            people += result.people
            counties.update(result.counties)
    finally:
        output.close()
    manifest = write_reports(plan, output, people, counties)
    covered = sum(1 for n in manifest["rows_per_county"].values() if n)
    # Counts only: never a name, number or date of a (fictional) person.
    print(f"clearsweep generate: {plan.files} {plan.format} file(s), {plan.rows} rows"
          f" + {manifest['bad_lines']} bad lines, {people} people, {covered} of 58 counties"
          f" -> {plan.out}")
    return 0
