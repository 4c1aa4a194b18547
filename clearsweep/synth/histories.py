"""People and their criminal histories, drawn from a seeded Random: a person's identity
columns, then cycle by cycle the arrest, court action (disposition, sentence continuation rows),
PC 290 registration and death rows, in record order. Also the cheap random draws and the date
formatting that this hot path needs."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from random import Random
from typing import Iterator, NamedTuple

from clearsweep.schema import N_COLUMNS
from clearsweep.synth.catalog import (
    ARREST, ARREST_AGENCIES, ATTEMPT_BASES, ATTEMPT_SEPARATORS, BIRTHPLACES, CA_PLACES, COL, CORONER,
    COUNTY_CUM_WEIGHTS, COURT, COURT_AGENCY, DECEASED, DISPOSITION_CUM_WEIGHTS, DISPOSITIONS, EYES,
    FEMALE_FIRST_NAMES, GANG_CONDITIONAL, GANG_ENHANCEMENT, HAIR, INITIALS, JUNK_PLACES, LAST_NAMES,
    MALE_FIRST_NAMES, NON_PROP64_KINDS, OTHER_COMMENTS, PLACEHOLDER, PROBATION_VIOLATION,
    PROP64_CHARGES, PROP64_CUM_WEIGHTS, PROP64_PROPENSITY, RACE_CUM_WEIGHTS, RACES, REGISTRATION,
    REGISTRATIONS, RELATED_CHARGES, SEPARATOR_COLUMNS, SHERIFF, STATUS_OF_TOC, TIME_UNITS, Agency,
    Charge, Place, StepType,
)

# A fixed extract date: histories end here, never at the wall clock (reproducibility).
EXTRACT_END = date(2025, 6, 30).toordinal()
PROP64_DAY = date(2016, 11, 9).toordinal()

# Random.choice/randrange/choices cost 4-6x these on the hot path. The float draws are uniform
# enough for synthetic data and, like Random, reproducible from the seed.


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


class Person(NamedTuple):
    base: list  # a row template holding the person's columns
    dob: int  # date ordinal
    home: Place
    prop64_share: float
    blank: str  # how this person's record says "no value": "" or the dash placeholder
    deceased: bool


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
    yield from sentence_rows(row, parts)
    return True


def sentence_rows(row: list, parts: list[tuple[str, int, str]]) -> list[list]:
    """A conviction's row once per sentence part (SENT_ORDER 1, 2, ...: continuation rows)."""
    out = []
    for n, (where, length, unit) in enumerate(parts, 1):
        part = row.copy()
        part[COL.SENT_ORDER] = str(n)
        part[COL.SENT_LOC_CODE], part[COL.SENT_LOC_DESCR] = where[0], where
        part[COL.SENT_LENGTH] = str(length)
        part[COL.SENT_TIME_CODE], part[COL.SENT_TIME_DESCR] = unit, TIME_UNITS[unit]
        out.append(part)
    return out


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
