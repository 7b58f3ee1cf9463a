"""Real data: SF police rows (one per offence) linked into incidents without any id column."""

from __future__ import annotations

import pandas as pd

from core.settings import PROJECT_ROOT
from linking.accuracy import pair_accuracy
from linking.linker import link_all
from linking.scoring import ScoringSettings
from pipeline.linking import place_text

SF_ROWS = PROJECT_ROOT.parent / "shared" / "data" / "real" / "sf" / "sf_police_incidents_2018-12_fullcols.csv"
TIME_FORMAT = "%Y/%m/%d %I:%M:%S %p"


def _local(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, format=TIME_FORMAT).dt.tz_localize(
        "America/Los_Angeles", ambiguous="NaT", nonexistent="NaT")


def test_sf_rows_link_into_their_incidents() -> None:
    rows = pd.read_csv(SF_ROWS)  # a missing file fails here, loudly
    # Row ID, Incident ID, Incident Number, CAD Number and CNN are withheld: ids decide nothing.
    # The report type stands in for the category: the offences of one incident differ by design.
    frame = pd.DataFrame({
        "record_id": range(len(rows)), "source": "sfpd",
        "reported_at": _local(rows["Report Datetime"]), "occurred_at": _local(rows["Incident Datetime"]),
        "lon": rows["Longitude"], "lat": rows["Latitude"], "area": rows["Police District"],
        "address": place_text(rows["Intersection"]), "text": rows["Resolution"],
        "category": rows["Report Type Description"],
    })
    result = link_all(frame)
    groups = result.groups.set_index("record_id")["group_id"].reindex(frame["record_id"])
    score = pair_accuracy(pd.Series(groups.to_numpy()), rows["Incident ID"])
    assert score.records == 11_884
    assert score.precision >= 0.9 and score.recall >= 0.99
    assert score.f1 >= 0.95
    assert (result.links["score"] >= ScoringSettings().threshold).all()
