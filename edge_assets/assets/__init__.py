"""Dagster assets only: wiring of the pure modules to partitions, IO and checks."""
