"""Source specs: a wrong spec is refused with the file, the field and what was expected."""

from __future__ import annotations

import pytest
import yaml

from connectors.spec import SpecError, expand, load_spec, load_specs, read_spec_folder
from core.settings import PROJECT_ROOT


def _write(tmp_path, spec: dict, name: str = "bad.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def good(tmp_path) -> dict:
    return yaml.safe_load((PROJECT_ROOT / "sources" / "police_110.yaml").read_text(encoding="utf-8"))


def test_every_shipped_spec_is_valid():
    specs = load_specs(PROJECT_ROOT / "sources")
    assert len(specs) >= 9
    for spec in specs.values():
        spec.reader_options()


@pytest.mark.parametrize(("change", "field", "expected"), [
    (lambda s: s.update(format="parquet"), "format", "'csv'"),
    (lambda s: s["fields"].pop("reported_at"), "fields", "reported_at"),
    (lambda s: s["fields"].update(colour={"from": "x"}), "fields", "not canonical case fields"),
    (lambda s: s["fields"]["reported_at"].update(parse="date"), "fields.reported_at.parse", "'datetime'"),
    (lambda s: s.update(crs="GCJ-03"), "crs", "unknown coordinate system"),
    (lambda s: s.update(encoding="gbk2"), "encoding", "unknown text encoding"),
    (lambda s: s["options"].update(paging="token"), "options.paging", "'cursor'"),
    (lambda s: s["options"].update(page_size=0), "options.page_size", "greater than 0"),
    (lambda s: s.update(name="Police 110"), "name", "pattern"),
    (lambda s: s["fields"].update(address={}), "fields.address", "`from`"),
])
def test_wrong_spec_names_file_field_and_expectation(tmp_path, good, change, field, expected):
    change(good)
    path = _write(tmp_path, good)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert str(path) in message and field in message and expected in message, message


def test_unreadable_yaml_and_duplicate_names(tmp_path, good):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(SpecError, match="broken.yaml: cannot read YAML"):
        load_spec(broken)
    broken.unlink()
    _write(tmp_path, good, "a.yaml")
    _write(tmp_path, good, "b.yaml")
    with pytest.raises(SpecError, match="b.yaml: source name 'police_110' is already used"):
        load_specs(tmp_path)


def test_placeholders_need_a_value_or_a_default():
    assert expand("${A}/x", {"A": "1"}, "w") == "1/x"
    assert expand("${A:-http://h:1}/x", {}, "w") == "http://h:1/x"
    with pytest.raises(SpecError, match=r"police.location: variable \$\{TOKEN\} is not set"):
        expand("${TOKEN}", {}, "police.location")


def test_one_broken_spec_leaves_the_others_usable(tmp_path, good):
    _write(tmp_path, good, "police_110.yaml")
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({**good, "name": "typo", "kind": "gossip"}),
                                        encoding="utf-8")
    found = read_spec_folder(tmp_path)
    assert list(found.specs) == ["police_110"]
    (problem,) = found.broken.values()
    assert "typo.yaml" in problem and "kind" in problem and "gossip" in problem
    with pytest.raises(SpecError, match="typo.yaml"):
        load_specs(tmp_path)  # callers that need every spec still refuse
