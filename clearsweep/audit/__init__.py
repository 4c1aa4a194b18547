"""Audit: recorded runs read back to explain, compare and reproduce them (never deciding anew by
other rules than the run's own)."""
