"""Early warning: detectors over daily rollups, alert lifecycle, evaluation."""
