"""Validation of canonical cases: row-level verdicts with reasons, quarantine, run records."""
