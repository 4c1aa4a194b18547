"""Numbers as a prosecutor reads them: thousands separated, people counted as people."""

from __future__ import annotations


def number(n: int | None) -> str:
    return f"{int(n or 0):,}"


def count_of(n: int | None, singular: str, plural: str | None = None) -> str:
    """'1 person', '25,697 people', '3 convictions'."""
    n = int(n or 0)
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def people(n: int | None) -> str:
    return count_of(n, "person", "people")


def convictions(n: int | None) -> str:
    return count_of(n, "conviction")


def have(n: int | None) -> str:
    """The verb of a count of people: '1 person has', '3 people have'."""
    return "has" if int(n or 0) == 1 else "have"


def share(part: int | None, whole: int | None) -> str:
    """'12.5%' of a whole, '-' when there is none."""
    return f"{100.0 * (part or 0) / whole:.1f}%" if whole else "-"
