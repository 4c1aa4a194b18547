"""Errors the command line reports plainly (no traceback, never personal data)."""


class UserError(Exception):
    """A problem the user can fix (bad argument, missing file, bad configuration): exit 2."""


class ReconciliationError(UserError):
    """Rows in != rows accepted + rows quarantined: nothing is committed."""


class DamagedWarehouse(Exception):
    """A table's Delta log or files are damaged (named, with the repair): exit 1, nothing written."""


class TraceLeft(Exception):
    """A purged person is still named by a file under the warehouse: exit 1, naming the file
    (never the person)."""
