"""One county's export: its packet written straight into a folder, the way `export --county`
always wrote it. The same code as a delivery of many counties (clearsweep.exports.delivery), so
a county's files are the same bytes whichever way they were made."""

from __future__ import annotations

from clearsweep import counties as county_list
from clearsweep.errors import UserError
from clearsweep.exports.delivery import deliver
from clearsweep.progress import Progress


def export_county(spark, warehouse: str, county: str, out: str, run_id: str | None = None, progress: Progress | None = None) -> dict:
    """The county's files from the run given, or the latest that decided it, into `out`; a
    county whose exhibit does not tie out to the run's figures is refused (UserError), its
    folder left as it was."""
    county = county_list.normalize(county)
    result = deliver(spark, warehouse, out, [county], run_id, flat=True, progress=progress)
    if county in result["refused"]:
        raise UserError(result["refused"][county])
    return {**result["counties"][county], "seconds": result["seconds"]}
