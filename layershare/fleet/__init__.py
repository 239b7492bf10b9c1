"""Many hosts: one host's snapshot exported as Parquet tables, and the fleet they add up to (DuckDB)."""
