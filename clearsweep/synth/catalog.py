"""Reference data of the synthetic extract: the DOJ row layout, places, people's attributes,
charges in the spellings the DOJ file uses, steps, agencies and dispositions, with the weights
that draw them. Counties and their populations come from clearsweep.counties. No randomness here."""

from __future__ import annotations

from itertools import accumulate
from types import SimpleNamespace
from typing import NamedTuple

from clearsweep.counties import COUNTIES, POPULATION
from clearsweep.schema import DOJ_COLUMNS

# Column indexes by name: rows are plain lists, the fastest to build and copy.
COL = SimpleNamespace(**{name: i for i, name in enumerate(DOJ_COLUMNS)})
SEPARATOR_COLUMNS = tuple(
    i for i, name in enumerate(DOJ_COLUMNS) if name.endswith("_SEG_SEP") or name == "END_OF_REC"
)
PLACEHOLDER = "  -  "  # the DOJ "no value" dash, padded as delivered


class Place(NamedTuple):
    county: str
    county_code: str
    california: bool


COUNTY_CUM_WEIGHTS = tuple(accumulate(POPULATION.values()))
# Values that belong to no California county; "NEVADA STATE" is not the county NEVADA.
JUNK_COUNTIES = ("NEVADA STATE", "ARIZONA STATE", "OREGON STATE", "")
CA_PLACES = tuple(Place(name, f"{i + 1:02d}", True) for i, name in enumerate(COUNTIES))
JUNK_PLACES = tuple(Place(name, "", False) for name in JUNK_COUNTIES)

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

DISPOSITIONS = ("CONVICTED-JAIL", "CONVICTED-PROBATION", "CONVICTED-PRISON", "DISMISSED/CHARGE",
                "REL/TOT OTHER JURIS/AUTH", "")
DISPOSITION_CUM_WEIGHTS = (25, 50, 56, 86, 91, 100)
