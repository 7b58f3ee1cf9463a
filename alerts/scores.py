"""What every detector hands on: per area and day, how alarming the day is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scores:
    """One detector's verdicts for one signal, as (areas x days) arrays.

    `statistic` grows with the evidence (a z-score, -log10 p, a CUSUM sum); a method alarms
    where it reaches the method's threshold. Cells without a verdict (too little history)
    hold NaN in statistic and p_value.
    """

    statistic: np.ndarray
    observed: np.ndarray  # the count the verdict is about (a day, or a window of days)
    expected: np.ndarray  # what the baseline expected for the same count
    p_value: np.ndarray

    def alarms(self, threshold: float, min_observed: float = 0.0) -> np.ndarray:
        """Boolean (areas x days): statistic >= threshold and enough cases to act on."""
        with np.errstate(invalid="ignore"):
            return (self.statistic >= threshold) & (self.observed >= min_observed)
