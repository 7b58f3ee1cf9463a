"""GX Data Docs: every validation run rendered as HTML under <data_dir>/quality/docs.

Validation itself runs in an ephemeral context; here a file context under
<data_dir>/quality/gx keeps a SUMMARY-sized result per run (the counts of its quality record,
not millions of row indexes) and renders it, so the docs grow run by run, across processes.

GX's pages load jQuery, Bootstrap and their kin from CDNs; `offline_page` points them at local
copies instead, for sites served on a network with no internet (the API serves them so).
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from core.masking import masked_examples
from quality.records import QualityRecord

SITE = "gridhub"
INDEX_LIMIT = 500  # the index lists this many latest validations; older pages stay reachable

# What GX 1.24's pages load from the internet, by the local file that replaces it (the names
# of the dashboard build's dist/docs/gx/, copied from the same packages on npm), or None: dropped.
# Vega draws charts only on profiling pages, which GridHub does not build.
CDN_COPIES: dict[str, str | None] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-prefers-dark.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": None,
    "https://cdn.jsdelivr.net/npm/vega-lite@5": None,
    "https://cdn.jsdelivr.net/npm/vega-embed@6": None,
}
# The GX logo, fetched from GX's servers with the data context's id in the query string.
LOGO = "static/images/logo-long.png"
_EXTERNAL_TAG = re.compile(
    r"""<(script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["'](https?:)?//[^"']*["'][^>]*>(\s*</script>)?""",
    re.IGNORECASE)
_URL = re.compile(r"""\b(src|href)\s*=\s*["']((?:https?:)?//[^"']*)["']""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*["']?(?:https?:)?//[^"')]*["']?\s*\)""", re.IGNORECASE)
# The site's own static files, named relative to the page (validation pages miss one `../`).
_SITE_STATIC = re.compile(r"""(\b(?:src|href)\s*=\s*["'])(?:\./|(?:\.\./)+)?static/""", re.IGNORECASE)


def docs_dir(data_dir: Path) -> Path:
    """Where the site is built (index.html at its top)."""
    return data_dir / "quality" / "docs"


def offline_page(html: str, vendor_url: str, site_url: str) -> str:
    """A Data Docs page that loads nothing from the internet: scripts and styles from
    `vendor_url` (CDN_COPIES' files), the logo and the site's own static files from under
    `site_url`; any other outside script, style or image is left out."""
    def local(tag: re.Match) -> str:
        kind = tag.group(1).lower()
        attribute, url = _URL.search(tag.group(0)).groups()
        if kind == "img":
            return tag.group(0).replace(url, site_url + LOGO)
        copy = CDN_COPIES.get(url)
        if copy is None:
            return ""
        if kind == "script":
            return f'<script src="{vendor_url}{copy}"></script>'
        return f'<link rel="stylesheet" href="{vendor_url}{copy}">'

    html = _EXTERNAL_TAG.sub(local, html)
    html = _SITE_STATIC.sub(lambda m: f"{m.group(1)}{site_url}static/", html)
    return _CSS_URL.sub(f"url('{site_url}{LOGO}')", html)  # the logo again, as a CSS background


def publish(record: QualityRecord, data_dir: Path, run_time: datetime | None = None) -> Path:
    """Store the run's validation result and (re)build its page and the index; returns index.html."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    import quality.expectations  # noqa: F401  (renders GridHub's own expectations)

    run_time = run_time or datetime.now(UTC)
    with _locked(data_dir):
        context = _file_context(data_dir.resolve())
        suite_id = ExpectationSuiteIdentifier(name=record.suite)
        result_id = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id,
            run_id=RunIdentifier(run_name=f"run-{record.run_id}", run_time=run_time),
            batch_identifier=record.source)
        context.validation_results_store.store_validation_results(
            suite_validation_result=suite_result(record, run_time),
            suite_validation_result_identifier=result_id,
            expectation_suite_identifier=suite_id)
        context.build_data_docs(site_names=[SITE], resource_identifiers=[result_id])
    return docs_dir(data_dir) / "index.html"


def suite_result(record: QualityRecord, run_time: datetime):
    """The quality record as a GX ExpectationSuiteValidationResult (SUMMARY detail), failing
    examples masked as case rows are."""
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    results = []
    for e in record.expectations:
        evaluated, unexpected, missing = e["evaluated"], e["unexpected"], e["missing"]
        judged = evaluated - missing
        results.append(ExpectationValidationResult(
            success=e["success"],
            expectation_config=ExpectationConfiguration(
                type=e["expectation"], kwargs=e["kwargs"],
                meta={"gridhub_key": e["key"], "message": e["message"], "action": e["action"]}),
            result={
                "element_count": evaluated, "unexpected_count": unexpected,
                "unexpected_percent": 100.0 * unexpected / judged if judged else 0.0,
                "missing_count": missing,
                "missing_percent": 100.0 * missing / evaluated if evaluated else 0.0,
                # masked as the API masks them: the pages show them to whoever reads the site
                "partial_unexpected_list": masked_examples(e),
            }))
    good = sum(r.success for r in results)
    return ExpectationSuiteValidationResult(
        success=record.success, results=results, suite_name=record.suite,
        statistics={"evaluated_expectations": len(results), "successful_expectations": good,
                    "unsuccessful_expectations": len(results) - good,
                    "success_percent": 100.0 * good / len(results) if results else 100.0},
        meta={"run_id": RunIdentifier(run_name=f"run-{record.run_id}", run_time=run_time),
              "validation_time": run_time,
              "active_batch_definition": {"datasource_name": "gridhub",
                                          "data_asset_name": record.source,
                                          "data_connector_name": "pipeline",
                                          "batch_identifiers": {"run_id": record.run_id}},
              "gridhub": {"rows": record.rows_evaluated, "passed": record.rows_passed,
                          "failed": record.rows_failed, "gates": record.gates}})


@cache
def _file_context(data_dir: Path):
    """The GX file context under data_dir/quality (one per process and folder)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(data_dir / "quality"))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    target = str(docs_dir(data_dir).resolve())
    sites = context.variables.data_docs_sites or {}
    if sites.get(SITE, {}).get("site_index_builder", {}).get("validation_results_limit") != INDEX_LIMIT \
            or sites.get(SITE, {}).get("store_backend", {}).get("base_directory") != target:
        config = {"class_name": "SiteBuilder", "show_how_to_buttons": False,
                  "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                    "base_directory": target},
                  "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                         "validation_results_limit": INDEX_LIMIT}}
        if SITE in sites:
            context.update_data_docs_site(SITE, config)
        else:
            context.add_data_docs_site(SITE, config)
    return context


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One docs writer at a time (ingests of different sources may run in parallel)."""
    lock = data_dir / "quality" / ".docs.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
