"""Date arithmetic as the reference tool did it (Go's time.AddDate), in Spark expressions."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def parse_yyyymmdd(value: Column) -> Column:
    """A real calendar date, or null for blank, 00000000, YYYY0000 or impossible values."""
    v = F.trim(value)
    return F.when(v.rlike(r"^[0-9]{8}$"), F.try_to_date(v, "yyyyMMdd"))


def _is_leap(year: Column) -> Column:
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def add_years(d: Column, years) -> Column:
    """Calendar years: Feb 29 + 1 year is Mar 1 (Go), not Feb 28 (Spark's add_months)."""
    y = F.year(d) + F.lit(years) if not isinstance(years, Column) else F.year(d) + years
    feb29_to_common_year = (F.month(d) == 2) & (F.dayofmonth(d) == 29) & ~_is_leap(y)
    return F.when(feb29_to_common_year, F.make_date(y, F.lit(3), F.lit(1))).otherwise(
        F.make_date(y, F.month(d), F.dayofmonth(d))
    )


def years_back_reach(date: Column, years: int) -> Column:
    """The first day d on which add_years(d, -years) >= `date`: from that day `date` lies
    `years` calendar years back or more (`date <= add_years(d, -years)` holds). Usually
    add_years(date, years); the day before when that day already reaches back to `date` (a
    Mar 1 `date` is reached on Feb 29 of a leap year, which reaches back to Mar 1)."""
    k = add_years(date, years)
    before = F.date_sub(k, 1)
    return F.when(add_years(before, -years) >= date, before).otherwise(k)


def ahead(date: Column, as_of: Column) -> Column:
    """`date` if it is after `as_of`, else null: a change still to come."""
    return F.when(date > as_of, date)


def years_between(later: Column, earlier: Column) -> Column:
    """(later - earlier) in days / 365.25, as the reference's 'years since' facts."""
    return F.datediff(later, earlier) / F.lit(365.25)


def format_years(years: Column) -> Column:
    return F.when(years.isNull(), F.lit("-1")).otherwise(F.format_string("%.1f", years))


def format_mdy(d: Column) -> Column:
    return F.coalesce(F.date_format(d, "MM/dd/yyyy"), F.lit(""))
