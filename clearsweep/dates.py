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
    `years` calendar years back or more (`date <= add_years(d, -years)` holds). add_years(date,
    years), except for a Mar 1 of a common year `years` before a leap year: Feb 29 reaches back
    to Mar 1 already (add_years(Feb 29, -years) is Mar 1 there)."""
    y = F.year(date) + F.lit(years)
    leap_day_first = (F.month(date) == 3) & (F.dayofmonth(date) == 1) & _is_leap(y) & ~_is_leap(F.year(date))
    return F.when(leap_day_first, F.make_date(y, F.lit(2), F.lit(29))).otherwise(add_years(date, years))


def years_between(later: Column, earlier: Column) -> Column:
    """(later - earlier) in days / 365.25, as the reference's 'years since' facts."""
    return F.datediff(later, earlier) / F.lit(365.25)


def format_years(years: Column) -> Column:
    return F.when(years.isNull(), F.lit("-1")).otherwise(F.format_string("%.1f", years))


def format_mdy(d: Column) -> Column:
    return F.coalesce(F.date_format(d, "MM/dd/yyyy"), F.lit(""))
