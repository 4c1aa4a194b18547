"""Audit: what a past run did and why, read back from the warehouse (diff, reproduce)."""
