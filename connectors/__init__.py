"""Source specs (YAML), readers per format, and mapping of source fields to the canonical case."""
