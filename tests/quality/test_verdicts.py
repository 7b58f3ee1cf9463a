"""Row-level verdicts agree with Great Expectations' own statistics, for any number of failures."""

from __future__ import annotations

import great_expectations as gx
import numpy as np
import pandas as pd

from connectors.spec import load_spec
from core.case import empty_cases
from core.settings import PROJECT_ROOT
from quality.config import QualityConfig
from quality.suite import suite_rules
from quality.validation import build_suite
from quality.verdicts import judge

NOW = pd.Timestamp("2026-06-01 12:00", tz="UTC")


def _faulty_cases(n: int = 3000, seed: int = 3) -> tuple[pd.DataFrame, pd.Series, dict[str, np.ndarray]]:
    """Canonical rows with hundreds of failures per rule (far beyond GX's 20-row sample)."""
    rng = np.random.default_rng(seed)
    cases = empty_cases(n)
    cases["source"] = "fixture"
    cases["source_record_id"] = [f"R{i:06d}" for i in range(n)]
    cases["record_hash"] = [f"h{i}" for i in range(n)]
    cases["kind"] = "dispute"
    cases["category"] = rng.choice(["labour", "traffic", "other"], n)
    cases["status"] = "resolved"
    reported = NOW - pd.to_timedelta(rng.integers(1, 400 * 86400, n), unit="s")
    cases["reported_at"] = reported.astype("datetime64[us, UTC]")
    cases["closed_at"] = (reported + pd.Timedelta(days=2)).astype("datetime64[us, UTC]")
    cases["address"] = "江岸市中山路12号幸福小区3栋"
    cases["amount"] = 100.0
    bad = {}
    order = iter(rng.permutation(n))  # every planted fault on rows of its own

    def pick(per_3000: int) -> np.ndarray:
        return np.sort([next(order) for _ in range(per_3000 * n // 3000)])

    bad["reported_at_present"] = pick(150)
    cases.loc[bad["reported_at_present"], "reported_at"] = pd.NaT
    bad["category_known"] = pick(120)
    cases.loc[bad["category_known"], "category"] = "wage"
    bad["closed_after_reported"] = pick(200)
    cases.loc[bad["closed_after_reported"], "closed_at"] = cases.loc[bad["closed_after_reported"], "reported_at"] - pd.Timedelta(days=1)
    bad["reported_not_future"] = pick(90)
    cases.loc[bad["reported_not_future"], "reported_at"] = NOW + pd.Timedelta(days=30)
    bad["amount_not_negative"] = pick(60)
    cases.loc[bad["amount_not_negative"], "amount"] = -5.0
    bad["address_readable"] = pick(80)
    cases.loc[bad["address_readable"], "address"] = "æ±Ÿå²¸å¸‚ä¸­å±±è·¯"
    twins = pick(40)
    cases.loc[twins, "source_record_id"] = "R-TWIN"  # one id, 40 different contents
    bad["one_version_per_record"] = twins
    problems = pd.Series([[] for _ in range(n)], index=cases.index, dtype=object)
    for i in pick(30):
        problems.iat[i] = ["status: unknown code 'X'"]
    cases.index = cases.index + 1000  # verdicts keep the caller's index, whatever it is
    problems.index = cases.index
    return cases, problems, bad


def test_every_failing_row_is_quarantined_with_gx_counts():
    cases, problems, planted = _faulty_cases()
    verdict = judge(cases, problems, now=NOW)
    report = verdict.report
    assert len(verdict.passed) + len(verdict.failed) == len(cases)
    assert report.rows == len(cases) and report.failed == len(verdict.failed)

    # GX's own statistics, from an independent SUMMARY run of the same suite.
    rules = suite_rules(QualityConfig(), NOW.to_pydatetime())
    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("check").add_dataframe_asset("cases")
             .add_batch_definition_whole_dataframe("all")
             .get_batch(batch_parameters={"dataframe": cases.reset_index(drop=True)}))
    summary = batch.validate(build_suite(rules, "check"), result_format="SUMMARY")
    gx_counts = {r.expectation_config.meta["gridhub_key"]: r.result["unexpected_count"]
                 for r in summary.results}

    per_rule = {o.rule.key: o for o in report.outcomes}
    quarantined_for = pd.Series(0, index=list(per_rule))
    for reasons in verdict.reasons:
        for reason in reasons:
            if reason["check"] in per_rule:
                quarantined_for[reason["check"]] += 1
    print("\nrule                     GX unexpected  quarantined for it")
    for key, outcome in per_rule.items():
        print(f"{key:26} {gx_counts[key]:>12}  {quarantined_for[key]:>10}")
        assert outcome.unexpected == gx_counts[key] == len(outcome.failing)
        if outcome.rule.action == "quarantine":
            assert quarantined_for[key] == gx_counts[key]
    for key, rows in planted.items():
        failed_ids = set(verdict.failed.index[[key in {r["check"] for r in rs} for rs in verdict.reasons]])
        assert set(cases.index[rows]) <= failed_ids, key
        assert gx_counts[key] >= len(rows) > 20
    failing_positions = set()
    for outcome in report.outcomes:
        if outcome.rule.action == "quarantine":
            failing_positions |= set(outcome.failing.tolist())
    failing_positions |= {i for i, p in enumerate(problems) if p}
    assert set(verdict.failed.index) == set(cases.index[sorted(failing_positions)])


def test_exact_repeats_pass_and_conflicting_versions_fail():
    cases, problems, planted = _faulty_cases(1000)
    faulty = set(np.concatenate(list(planted.values()))) | {i for i, p in enumerate(problems) if p}
    a, b = [i for i in range(len(cases)) if i not in faulty][:2]
    repeat = cases.iloc[[a]].copy()
    conflicting = cases.iloc[[b]].copy()
    conflicting["record_hash"] = "another version"
    both = pd.concat([cases, repeat, conflicting], ignore_index=True)
    verdict = judge(both, pd.Series([[] for _ in range(len(both))]), now=NOW)
    passed_ids = verdict.passed["source_record_id"].tolist()
    checks = dict(zip(verdict.failed["source_record_id"], verdict.reasons, strict=True))
    assert passed_ids.count(cases["source_record_id"].iat[a]) == 2  # the merge skips the repeat
    assert "one_version_per_record" in {r["check"] for r in checks[cases["source_record_id"].iat[b]]}
    assert cases["source_record_id"].iat[b] not in passed_ids  # neither version goes on


def test_source_expectations_from_the_spec_quarantine_and_warn():
    spec = load_spec(PROJECT_ROOT / "sources" / "hotline_12345.yaml").model_copy(update={"quality": {
        "start": "2025-09-01",
        "expectations": [
            {"expect": "expect_column_values_to_match_regex", "column": "source_record_id",
             "regex": r"^R\d{6}$", "message": "id is not R + six digits", "key": "id_format"},
            {"expect": "expect_column_values_to_be_in_set", "column": "category",
             "value_set": ["labour"], "message": "not a labour case", "action": "warn"},
        ]}})
    cases, problems, _ = _faulty_cases(1000)
    verdict = judge(cases, problems, spec=spec, now=NOW)
    outcomes = {o.rule.key: o for o in verdict.report.outcomes}
    assert outcomes["id_format"].unexpected >= 13  # the R-TWIN rows
    warned = outcomes["column_values_to_be_in_set__category"]
    assert warned.unexpected > 100
    assert not any(r["check"] == warned.rule.key for rs in verdict.reasons for r in rs)
    early = (cases["reported_at"] < pd.Timestamp("2025-08-31 16:00", tz="UTC")).sum()
    assert outcomes["reported_after_start"].unexpected == early > 0
