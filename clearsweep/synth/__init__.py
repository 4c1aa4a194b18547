"""The seeded synthetic DOJ criminal-history extract behind `clearsweep generate` (no Spark)."""
