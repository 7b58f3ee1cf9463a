"""Cross-agency linking: which records of several agencies tell of the same dispute.

Pure frames, no SQL: blocking (candidates), scoring (evidence per pair), grouping (union of
linked records); store/links.py keeps the result and pipeline/linking.py composes them.
"""
