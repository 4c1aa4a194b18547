"""Deciding eligibility: the policies and their rules, as Spark expressions over one person's history. No I/O here."""
