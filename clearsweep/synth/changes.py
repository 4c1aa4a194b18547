"""The changes one month brings to a person's record, as rows (lists of the 95 field values):
a new person with Prop 64 convictions, a new conviction for a known person (in their home
county or another), a corrected disposition, removed rows. Each draws from the Random it is
given, so the month is reproducible from its seed. Used by `generate --next-month-of`."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from random import Random

from clearsweep.schema import N_COLUMNS
from clearsweep.synth.catalog import (
    CA_PLACES, COL, COURT, COURT_AGENCY, DECEASED, PLACEHOLDER, SEPARATOR_COLUMNS,
)
from clearsweep.synth.encoding import EVENT_START
from clearsweep.synth.histories import (
    EXTRACT_END, Person, arrest_step, between, case_number, case_ofn, cnt_order, count_row,
    draw_county, draw_prop64_charge, history, new_person, pick, sentence_parts, sentence_rows, set_status,
    step_row, ymd, years,
)

KINDS = ("new_person", "new_conviction_same_county", "new_conviction_other_county",
         "altered_disposition", "removed_rows", "purged")
PLACES = {place.county: place for place in CA_PLACES}
LAST_DAY = date.fromordinal(EXTRACT_END)


def is_prop64_conviction(row: list) -> bool:
    text = row[COL.OFFENSE_DESCR].strip() or row[COL.COMMENT_TEXT]
    if text.startswith("SEE COMMENT"):
        text = row[COL.COMMENT_TEXT]
    text = text.lstrip()
    section = text[3:].lstrip("/.-") if text.startswith("664") else text
    return (row[COL.STP_TYPE_CODE] == COURT.code and row[COL.DISP_DESCR].startswith("CONVICTED")
            and section[:5] in ("11357", "11358", "11359", "11360"))


def new_person_rows(rng: Random, subject_id: int, several_counties: bool) -> list[list]:
    """A person new to the file with at least one Prop 64 conviction (and, when asked, cycles
    in more than one county). Drawn again until it fits; the draws are seeded."""
    rows: list[list] = []
    for _ in range(200):
        person = new_person(rng, subject_id)
        person = person._replace(prop64_share=max(person.prop64_share, 0.6))
        rows = list(history(rng, person))
        counties = {r[COL.STP_ORI_CNTY_NAME] for r in rows if r[COL.STP_ORI_CNTY_NAME] in PLACES}
        if any(map(is_prop64_conviction, rows)) and (len(counties) > 1 or not several_counties):
            return rows
    return rows


def parse_ymd(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else None
    except ValueError:
        return None


def known_person(rows: list[list]) -> Person:
    """The Person behind a record's rows: their own columns, home county (where most of their
    rows are) and how they write "no value"."""
    first = rows[0]
    blank = PLACEHOLDER if PLACEHOLDER in first[EVENT_START:] or first[COL.RECORD_ID] == PLACEHOLDER else ""
    base = list(first)
    for i in range(EVENT_START, N_COLUMNS):
        base[i] = "#" if i in SEPARATOR_COLUMNS else blank
    dob = parse_ymd(first[COL.PRI_DOB])
    dob_ordinal = dob.toordinal() if dob else date(1975, 1, 1).toordinal()
    counties = Counter(r[COL.STP_ORI_CNTY_NAME] for r in rows if r[COL.STP_ORI_CNTY_NAME] in PLACES)
    home = PLACES[counties.most_common(1)[0][0]] if counties else PLACES["LOS ANGELES"]
    return Person(base, dob_ordinal, home, 0.5, blank, False)


def can_convict(rows: list[list]) -> bool:
    """A new conviction fits a living person."""
    return not any(r[COL.STP_TYPE_CODE] == DECEASED.code for r in rows)


def new_conviction_rows(rng: Random, rows: list[list], same_county: bool) -> list[list]:
    """A new arrest cycle, convicted of a Prop 64 offense, for a known person: a disposition
    reported late, dated after their last cycle (or, for a long record, within it)."""
    person = known_person(rows)
    place = person.home
    while not same_county and place == person.home:
        place = draw_county(rng)
    cycles = [int(r[COL.CYC_ORDER]) for r in rows if r[COL.CYC_ORDER].isdigit()]
    last = max((parse_ymd(r[COL.CYC_DATE]) for r in rows), key=lambda d: d or date.min)
    start = max(person.dob + years(18), (last.toordinal() + 30) if last else 0)
    day = between(rng, min(start, EXTRACT_END - 60), EXTRACT_END - 60)
    cycle = max(cycles, default=0) + 1
    charge = draw_prop64_charge(rng, day)
    out = list(arrest_step(rng, person, place, cycle, day, [charge]))
    court_day = min(day + between(rng, 10, 50), EXTRACT_END)
    step = step_row(rng, person, place, COURT_AGENCY, COURT, cycle, 2, court_day, day)
    row = count_row(rng, step, person, cnt_order(cycle, 2, 1), charge, vary=False)
    set_status(rng, row, charge.toc)
    row[COL.OFN] = case_ofn(rng, case_number(rng))
    row[COL.DISP_DATE] = ymd(court_day)
    row[COL.DISP_DESCR] = pick(rng, ("CONVICTED-PROBATION", "CONVICTED-JAIL"))
    parts = sentence_parts(rng, row[COL.DISP_DESCR]) or [("PROBATION", 12, "M")]
    out += sentence_rows(row, parts)
    return out


def disposition_counts(rows: list[list]) -> list[str]:
    """CNT_ORDERs of court counts with a disposition, convictions first."""
    court = [r for r in rows if r[COL.STP_TYPE_CODE] == COURT.code and r[COL.DISP_DESCR].strip()]
    convicted = sorted({r[COL.CNT_ORDER] for r in court if r[COL.DISP_DESCR].startswith("CONVICTED")})
    return convicted or sorted({r[COL.CNT_ORDER] for r in court})


def alter_disposition(rng: Random, rows: list[list]) -> set[int]:
    """Correct one count's disposition in place (all its sentence rows): its date moved, or a
    conviction found dismissed. Returns the indexes of the rows changed."""
    counts = disposition_counts(rows)
    order = counts[int(rng.random() * len(counts))] if rng.random() < 0.5 else counts[0]
    changed = {i for i, r in enumerate(rows) if r[COL.CNT_ORDER] == order}
    convicted = rows[min(changed)][COL.DISP_DESCR].startswith("CONVICTED")
    # a conviction with sentence continuation rows keeps its rows: its date is what is corrected
    move_date = rng.random() < 0.5 or not convicted or len(changed) > 1
    shift = timedelta(days=between(rng, 1, 90))
    for i in changed:
        row = rows[i]
        if move_date:
            when = parse_ymd(row[COL.DISP_DATE]) or parse_ymd(row[COL.STP_EVENT_DATE]) or LAST_DAY - shift
            corrected = when - shift if when + shift > LAST_DAY else when + shift
            row[COL.DISP_DATE] = corrected.strftime("%Y%m%d")
        else:
            row[COL.DISP_DESCR] = "DISMISSED/CHARGE"
            for col in (COL.SENT_ORDER, COL.SENT_LOC_CODE, COL.SENT_LOC_DESCR, COL.SENT_LENGTH,
                        COL.SENT_TIME_CODE, COL.SENT_TIME_DESCR):
                row[col] = ""
    return changed


def can_alter(rows: list[list]) -> bool:
    return bool(disposition_counts(rows))


def can_remove(rows: list[list]) -> bool:
    return len(rows) > 1


def rows_to_remove(rows: list[list]) -> set[int]:
    """Rows taken out of a record (a cycle entered in error): the last cycle when the person
    has more than one, else the last row. Keeps at least one row."""
    cycles = sorted({r[COL.CYC_ORDER] for r in rows}, key=lambda c: int(c) if c.isdigit() else -1)
    if len(cycles) > 1:
        return {i for i, r in enumerate(rows) if r[COL.CYC_ORDER] == cycles[-1]}
    return {len(rows) - 1}
