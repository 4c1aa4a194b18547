"""Seeded generator of random people as DOJ research-file rows (for property tests).

``generate(n_people, seed)`` returns a list of row dicts with all 95 DOJ columns (unused ones
``""``) plus ``row_index`` (0-based input order). It is deliberately nasty in the ways the spec
cares about: Prop 64 texts in several spellings (attempts, bare subsection letters, no code, no
``-``), super strikes (including the PC 186.22(B)(4) gang combination in the same case, and near
misses like ``537 PC``), PC 290 offenses and REGISTRATION steps, related charges, comment-only
charges, felony status from CONV_STAT_DESCR or from OFFENSE_TOC, unusable dates, dates on the
statutory / threshold boundaries, Feb 29 birthdays, sentence-continuation rows (same
(SUBJECT_ID, CNT_ORDER), sometimes with differing offense / status / date), DECEASED steps,
several counties, CNT_ORDERs shared between people, and rows of a person scattered in the file.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import List, Optional

import reference_classifier as rc  # noqa: E402

COUNTIES = ("LOS ANGELES", "SACRAMENTO", "YOLO", "SAN JOAQUIN")

PROP64_TEXTS = (
    "11357(A) HS-POSSESS", "11357(C)HS-X", "11359HS-INTENT SELL", "11357B2 HS-X",
    "664/11358 HS-X", "11360(B) SELL/FURNISH", "11357 HS-POSSESS", "11357(B) HS-POSSESS",
    "11357(D) HS-X", "11357A HS-X", "11358 HS-CULTIVATE", "11359 HS-POSSESS FOR SALE",
    "11360(A) HS-TRANSPORT", "664-11359 HS-X", "11359(B) HS-X",
    # rarer spellings: attempts / conspiracy written otherwise, leading space, nested subsections
    "664.11357(B) HS-X", "66411360 HS-X", " 11357(A) HS-X", "182/11360(A) HS-X",
    "11359(A)(1) HS-X", "11357(A)(2)HS-X",
)
SUPERSTRIKE_TEXTS = ("187 PC-MURDER", "220 PC-X", "288(A) PC-LEWD", "664/187 PC-ATT MURDER",
                     "190.2 PC-X", "245(D)(3) PC-X", "289(J) PC-X", "286(C)(2)(B) PC-X",
                     "37 PC-X", "288.5(A) PC-X", "11418(B)(1) PC-X")
ENHANCEABLE_TEXTS = ("136.1 PC-X", "246 PC-SHOOT", "215 PC-CARJACK", "213(A)(1)(A) PC-ROBBERY")
GANG_TEXT = "186.22(B)(4) PC-GANG"
PC290_TEXTS = ("266 PC-X", "314(1) PC-X", "288 PC-X", "261(A)(2) PC-X", "243.4(A) PC-X",
               "647.6(A) PC-X", "311.11(A) PC-X")
RELATED_TEXTS = ("11364 HS-PARAPHERNALIA", "647(F) PC-DRUNK", "148 PC-OBSTRUCT", "602(K) PC-TRESPASS",
                 "148.9 PC-FALSE ID", "1320(B) PC-FTA", "11550(A) HS-UNDER INFLUENCE",
                 "4140 BP-X", "40508(A) VC-FTA")
OTHER_TEXTS = ("503 VC-X", "459 PC-BURGLARY", "537 PC-X", "148.5 PC-FALSE REPORT", "647(B) PC-X",
               "11364.1 HS-X", "23152(A) VC-DUI", "1187 PC-X", "11377(A) HS-POSSESS",
               "1266 PC-X", "245(A)(1) PC-ADW", "288.1 PC-X", "213(A)(2) PC-X")
DISPOSITIONS = ("CONVICTED-JAIL", "CONVICTED-PROBATION", "DISMISSED", "CHARGE DROPPED")
ARREST_TYPES = ("ARREST", "DETAINED", "CITED")
RACES = ("WHITE", "BLACK", "HISPANIC", "ASIAN", "OTHER", "")
UNUSABLE_DATES = ("", "00000000", "19870000")


def _fmt(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def _rand_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


class _Gen:
    def __init__(self, seed: int, as_of: dt.date):
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.used_ids: set = set()
        self.profile = "mixed"
        self.favourites: tuple = ()

    # -------------------------------------------------------------- dates

    def disposition_date(self, dob: Optional[dt.date]) -> str:
        r = self.rng.random()
        if r < 0.03:
            return self.rng.choice(UNUSABLE_DATES)
        if r < 0.09:  # Prop 64 boundary
            return self.rng.choice(("20161108", "20161109", "20161110"))
        if r < 0.15:  # years-since / crime-free / 7-year thresholds
            n = self.rng.choice((5, 7, 10))
            return _fmt(rc.add_years(self.as_of, -n) + dt.timedelta(days=self.rng.choice((-1, 0, 1))))
        if r < 0.19 and dob is not None:  # 21st birthday
            return _fmt(rc.add_years(dob, 21) + dt.timedelta(days=self.rng.choice((-1, 0, 1))))
        if r < 0.22:  # after the as-of date
            return _fmt(_rand_date(self.rng, self.as_of, dt.date(2019, 12, 31) if self.as_of.year <= 2019
                                   else self.as_of + dt.timedelta(days=40)))
        lo = dt.date(1970, 1, 1)
        if dob is not None and self.rng.random() < 0.8:
            lo = max(lo, rc.add_years(dob, 16))
        return _fmt(_rand_date(self.rng, min(lo, dt.date(2019, 1, 1)), dt.date(2019, 12, 31)))

    def dob(self) -> str:
        r = self.rng.random()
        if r < 0.03:
            return self.rng.choice(UNUSABLE_DATES)
        if r < 0.06:
            return self.rng.choice(("19600229", "19680229", "19720229", "19960229", "20000229"))
        if r < 0.14:  # age thresholds 50 / 57 and "21 or younger"
            n = self.rng.choice((50, 57, 21, 22))
            return _fmt(rc.add_years(self.as_of, -n) + dt.timedelta(days=self.rng.choice((-1, 0, 1))))
        return _fmt(_rand_date(self.rng, dt.date(1940, 1, 1), dt.date(2005, 12, 31)))

    # -------------------------------------------------------------- charges

    def charge(self) -> str:
        r = self.rng.random()
        if self.profile == "prop64-only":
            return self.rng.choice(PROP64_TEXTS)
        if self.profile == "repeat" and r < 0.6:
            return self.rng.choice(self.favourites)
        if r < 0.45:
            return self.rng.choice(PROP64_TEXTS)
        if r < 0.52:
            return self.rng.choice(SUPERSTRIKE_TEXTS)
        if r < 0.58:
            return self.rng.choice(PC290_TEXTS)
        if r < 0.72:
            return self.rng.choice(RELATED_TEXTS)
        return self.rng.choice(OTHER_TEXTS)

    def offense_fields(self, text: str) -> dict:
        """OFFENSE_DESCR / COMMENT_TEXT for a charge: sometimes comment-only, sometimes with a
        (possibly conflicting) Prop 64 charge in the comment."""
        r = self.rng.random()
        if r < 0.08:
            return {"OFFENSE_DESCR": self.rng.choice(("", "SEE COMMENT FOR CHARGE", " ")),
                    "COMMENT_TEXT": text}
        if r < 0.16:
            return {"OFFENSE_DESCR": text,
                    "COMMENT_TEXT": self.rng.choice(PROP64_TEXTS + ("466 PC-X", "CHARGE AMENDED"))}
        return {"OFFENSE_DESCR": text, "COMMENT_TEXT": ""}

    def felony_fields(self) -> dict:
        r = self.rng.random()
        if r < 0.4:
            return {"CONV_STAT_DESCR": "FELONY", "OFFENSE_TOC": self.rng.choice(("F", "M", ""))}
        if r < 0.7:
            return {"CONV_STAT_DESCR": "MISDEMEANOR", "OFFENSE_TOC": self.rng.choice(("F", "M"))}
        if r < 0.75:
            return {"CONV_STAT_DESCR": "INFRACTION", "OFFENSE_TOC": "I"}
        return {"CONV_STAT_DESCR": "", "OFFENSE_TOC": self.rng.choice(("F", "F", "M", "I", ""))}

    def sentence_fields(self) -> dict:
        r = self.rng.random()
        if r < 0.25:
            return {"SENT_LENGTH": "", "SENT_TIME_CODE": ""}
        if r < 0.28:
            return {"SENT_LENGTH": self.rng.choice(("ABC", "3 ", "")), "SENT_TIME_CODE": "M"}
        return {"SENT_LENGTH": str(self.rng.randint(0, 12)),
                "SENT_TIME_CODE": self.rng.choice(("D", "M", "Y", "Y", "X"))}

    def ofn(self) -> str:
        r = self.rng.random()
        if r < 0.1:
            return ""
        if r < 0.13:
            return "NULL  "
        return str(self.rng.randint(100000, 999999))

    # -------------------------------------------------------------- people

    def subject_id(self) -> str:
        while True:
            sid = str(self.rng.randint(10_000, 99_999_999))
            if sid not in self.used_ids:
                self.used_ids.add(sid)
                return sid

    def person(self) -> List[dict]:
        rng = self.rng
        sid = self.subject_id()
        dob_s = self.dob()
        dob = rc.parse_date(dob_s)
        base = {"SUBJECT_ID": sid, "PRI_DOB": dob_s, "RACE_DESCR": rng.choice(RACES),
                "PRI_NAME": f"PERSON {sid}", "GENDER": rng.choice(("M", "F")),
                "CII_NUMBER": f"A{sid}"}
        home = rng.choice(COUNTIES)
        rows: List[dict] = []
        r = rng.random()
        # a few people only have Prop 64 charges; a few keep re-offending under one section
        self.profile = "prop64-only" if r < 0.12 else "repeat" if r < 0.24 else "mixed"
        self.favourites = (rng.choice(PROP64_TEXTS), rng.choice(PROP64_TEXTS))

        def add(**kw) -> dict:
            r = dict(base)
            r.update(kw)
            rows.append(r)
            return r

        n_cycles = rng.randint(3, 6) if self.profile == "repeat" else rng.randint(1, 6)
        for cyc in range(1, n_cycles + 1):
            county = home if rng.random() < 0.6 else rng.choice(COUNTIES)
            date = self.disposition_date(dob)
            cyc_s = "%03d" % cyc
            step = 1
            if rng.random() < 0.7:  # an arrest step
                for cnt in range(1, rng.randint(1, 2) + 1):
                    add(CYC_ORDER=cyc_s, CYC_DATE=date, STP_ORDER="%03d" % step,
                        STP_EVENT_DATE=date, STP_TYPE_DESCR=rng.choice(ARREST_TYPES),
                        STP_ORI_CNTY_NAME=county, CNT_ORDER=cyc_s + "%03d" % step + "%03d" % cnt + "000",
                        OFN=self.ofn(), OFFENSE_DESCR=self.charge(),
                        DISP_DESCR=rng.choice(("", "", "DISMISSED", "CONVICTED-JAIL"))
                        if rng.random() < 0.1 else "")
                step += 1
            # the court action step
            step_s = "%03d" % step
            case_ofn = self.ofn()
            n_counts = rng.randint(1, 4)
            gang_case = rng.random() < 0.06
            for cnt in range(1, n_counts + 2 if gang_case else n_counts + 1):
                cnt_order = cyc_s + step_s + "%03d" % cnt + "000"
                if gang_case and cnt == 1:
                    text = rng.choice(ENHANCEABLE_TEXTS)
                elif gang_case and cnt == n_counts + 1:
                    text = GANG_TEXT
                else:
                    text = self.charge()
                disp = rng.choice(DISPOSITIONS[:2]) if rng.random() < 0.7 else rng.choice(DISPOSITIONS)
                if gang_case and rng.random() < 0.8:
                    disp = "CONVICTED-JAIL"
                count_date = date if rng.random() < 0.9 else self.disposition_date(dob)
                row = add(CYC_ORDER=cyc_s, CYC_DATE=date, STP_ORDER=step_s,
                          STP_EVENT_DATE=count_date, STP_TYPE_DESCR="COURT ACTION",
                          STP_ORI_CNTY_NAME=county, CNT_ORDER=cnt_order,
                          OFN=case_ofn if rng.random() < 0.8 else self.ofn(),
                          DISP_DESCR=disp, DISP_DATE=count_date,
                          **self.offense_fields(text), **self.felony_fields(),
                          **self.sentence_fields())
                if disp.startswith("CONVICTED") and rng.random() < 0.15:
                    # sentence continuation: same (SUBJECT_ID, CNT_ORDER), another sentence
                    cont = dict(row)
                    cont.update(self.sentence_fields())
                    if rng.random() < 0.3:
                        cont.update(self.felony_fields())
                    if rng.random() < 0.2:
                        cont.update(OFFENSE_DESCR="", COMMENT_TEXT="SENTENCE MODIFIED")
                    if rng.random() < 0.2:
                        cont["STP_EVENT_DATE"] = self.disposition_date(dob)
                    if rng.random() < 0.2:
                        cont["DISP_DESCR"] = "CONVICTED"
                    rows.append(cont)
            if rng.random() < 0.15:  # a later court step in the same cycle (another case key)
                step += 1
                step_s = "%03d" % step
                add(CYC_ORDER=cyc_s, CYC_DATE=date, STP_ORDER=step_s, STP_EVENT_DATE=date,
                    STP_TYPE_DESCR="COURT ACTION", STP_ORI_CNTY_NAME=county,
                    CNT_ORDER=cyc_s + step_s + "001000", OFN=self.ofn(),
                    DISP_DESCR=rng.choice(DISPOSITIONS), **self.offense_fields(
                        rng.choice((GANG_TEXT,) + PROP64_TEXTS)),
                    **self.felony_fields(), **self.sentence_fields())
        nxt = n_cycles + 1
        if rng.random() < 0.08:  # PC 290 registration
            d = self.disposition_date(dob)
            add(CYC_ORDER="%03d" % nxt, STP_EVENT_DATE=d, STP_TYPE_DESCR="REGISTRATION",
                STP_ORI_CNTY_NAME=rng.choice(COUNTIES), CNT_ORDER="%03d001001000" % nxt,
                OFN=self.ofn(), OFFENSE_DESCR=rng.choice(("290 PC-REG", "290 PC-REG", "457.1 PC-ARSON REG")))
            nxt += 1
        if rng.random() < 0.06:  # deceased
            add(CYC_ORDER="%03d" % nxt, STP_EVENT_DATE=self.disposition_date(dob),
                STP_TYPE_DESCR="DECEASED", STP_ORI_CNTY_NAME=rng.choice(COUNTIES),
                CNT_ORDER="%03d001001000" % nxt, OFN=self.ofn(),
                DISP_DESCR="CONVICTED-PROBATION" if rng.random() < 0.2 else "",
                OFFENSE_DESCR=rng.choice(("DECEASED", "11357(A) HS-X")))
        if rows and rng.random() < 0.02:  # a later row with another DOB: the first row's wins
            rows[-1]["PRI_DOB"] = self.dob()
        return rows


def generate(n_people: int, seed: int, as_of: dt.date = dt.date(2019, 11, 11),
             scatter: float = 0.15) -> List[dict]:
    """Rows of ``n_people`` random people; a ``scatter`` share of rows is moved to random places
    in the file (a person's rows are not always together, nor in cycle order)."""
    g = _Gen(seed, as_of)
    rows: List[dict] = []
    for _ in range(n_people):
        rows.extend(g.person())
    rng = random.Random(seed + 1)
    moved = [r for r in rows if rng.random() < scatter]
    moved_ids = {id(r) for r in moved}
    rows = [r for r in rows if id(r) not in moved_ids]
    for r in moved:
        rows.insert(rng.randrange(len(rows) + 1), r)
    out = []
    for i, r in enumerate(rows):
        full = {c: "" for c in rc.COLUMNS}
        full.update(r)
        full["row_index"] = i
        out.append(full)
    return out


def shuffled(rows: List[dict], seed: int) -> List[dict]:
    """The same rows (row_index kept) in another list order."""
    out = [dict(r) for r in rows]
    random.Random(seed).shuffle(out)
    return out
