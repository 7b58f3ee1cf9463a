"""Detectors: each turns a signal's count matrix (and its baseline) into Scores."""
