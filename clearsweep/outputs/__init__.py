"""The warehouse contract: table names, layouts and schemas, writes, runs and versions; and the figures."""
