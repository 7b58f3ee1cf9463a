"""Governance areas, coordinate systems and the geocoding cascade onto grids."""
