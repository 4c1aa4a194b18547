"""Reading the DOJ extract: input files, parsing and checking lines, reconciling counts."""
