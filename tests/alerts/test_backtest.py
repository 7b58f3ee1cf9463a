"""The issue's bar, on the demo city's two years after every feed went through the pipeline."""

from __future__ import annotations

import pytest

from alerts.backtest import backtest_database, report_rows
from alerts.methods import Method

pytestmark = pytest.mark.slow  # every demo feed ingested, then two years of detection


def test_configured_method_meets_the_targets_and_beats_ears_c2(all_feeds_db, demo_dir):
    report = backtest_database(all_feeds_db, demo_dir / "demo" / "truth" / "outbreaks.json",
                               methods=[Method.GLM_CUSUM, Method.EARS_C2])
    for row in report_rows(report):
        print(row)  # shown with -s: the same figures `gridhub warn backtest` prints
    score = report.configured_score
    assert report.configured is Method.GLM_CUSUM
    assert score.outbreaks == 11 and not report.skipped_outbreaks
    assert score.detected_share >= 0.9, score.delays
    assert score.median_delay is not None and score.median_delay <= 3, score.delays
    assert score.false_per_100_area_weeks <= 1.0
    # EARS C2 at the same false-alert rate (its threshold raised until it is no noisier).
    c2 = report.c2_matched
    assert c2 is not None and c2.false_alerts <= score.false_alerts
    assert report.beats_c2, (score, c2)
    # At its textbook threshold C2 is far noisier than the configured method.
    assert report.scores[Method.EARS_C2].false_alerts > 5 * score.false_alerts
