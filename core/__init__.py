"""The small shared core every layer may import: settings, the canonical case, errors."""
