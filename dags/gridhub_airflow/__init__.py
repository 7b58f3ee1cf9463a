"""Helpers shared by GridHub's DAG files (assets, schedules, retry rules, the database)."""

