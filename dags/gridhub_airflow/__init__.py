"""Helpers shared by GridHub's DAG files (assets, schedules, retry rules, the database)."""

from core.arrow_pool import choose_arrow_pool

choose_arrow_pool()  # before the shared helpers import pandas or pyarrow
