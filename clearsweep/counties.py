"""California's 58 counties as the DOJ extract names them: the one list every module uses."""

from __future__ import annotations

from clearsweep.errors import UserError

# 2020 census population in thousands (the generator's weights). Dict order is alphabetical,
# which is also the order of the state's numeric county codes (ALAMEDA = 01 ... YUBA = 58).
POPULATION = {
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
COUNTIES = tuple(POPULATION)


def normalize(county: str, where: str = "") -> str:
    """A county as the user typed it ('Los Angeles ') -> its DOJ name, or a one-line error."""
    norm = (county or "").strip().upper()
    if norm not in POPULATION:
        prefix = f"{where}: " if where else ""
        raise UserError(f"{prefix}unknown county {county!r}: use one of the 58 DOJ county names, e.g. 'LOS ANGELES'")
    return norm


def resolve(named: list[str] | None) -> list[str]:
    """The counties of a run, sorted: all 58 when none are named."""
    if not named:
        return list(COUNTIES)
    return sorted({normalize(c) for c in named})
