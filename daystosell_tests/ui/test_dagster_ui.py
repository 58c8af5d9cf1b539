"""The Dagster UI as an engineer uses it: ``dagster dev`` on a small seeded lake, driven in Debian's Chromium.

The graph shows every asset in its group, a click on Materialize runs ``taxonomy`` with its blocking checks,
the asset page then shows the checks passed and the profiling plots, and the sensors are listed (stopped:
DAYSTOSELL_AUTOMATION=off keeps the daemon from retraining and releasing by itself).

Screenshots go to ``.state/screenshots/ui-<time>/`` (printed at the end); with DAYSTOSELL_UPDATE_SCREENSHOTS=1
the asset graph's also replaces ``docs/ui-asset-graph.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from daystosell_tests.conftest import seed_lake
from daystosell_tests.ui import dagster_dev
from daystosell_tests.ui.dagster_dev import DagsterDev

pytestmark = [pytest.mark.spark, pytest.mark.ui]

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
# As root Chromium needs --no-sandbox; without the background-networking flags it keeps dialling Google's
# services, and this machine's closed network refuses those connections loudly.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Generous: the machine is small and a CI run or Spark may be using its cores.
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT = 600.0
ADVERTS = 2_000
DOCS_GRAPH = dagster_dev.REPO / "docs" / "ui-asset-graph.png"

GROUPS = {
    "lake": ("adverts", "taxonomy", "valuations", "geography"),
    "features": ("training_set",),
    "model": ("fitted_model", "mleap_bundle"),
    "serving": ("live_advert_predictions", "service_image", "published_image", "preprod_deployment",
                "prod_deployment"),
}
SENSORS = ("raw_lake_sensor", "mleap_bundle_sensor")
TAXONOMY_CHECKS = ("taxonomy_schema", "taxonomy_row_count")
TAXONOMY_PLOTS = ("derivatives_by_make",)


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    logs: str


@pytest.fixture(scope="module")
def screenshots(request: pytest.FixtureRequest) -> Iterator[Path]:
    folder = dagster_dev.REPO / ".state" / "screenshots" / time.strftime("ui-%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    yield folder
    # Past pytest's capture, so it shows whether the tests passed or not.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        print(f"\nDagster UI screenshots: {folder}", flush=True)


@pytest.fixture(scope="module")
def dagster(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    root = tmp_path_factory.mktemp("dagster_ui")
    lake = seed_lake(spark, root / "lake", adverts=ADVERTS)
    home, storage = dagster_dev.instance_home(root / "instance")
    with dagster_dev.running(dagster_dev.dev_environment(home, storage, lake), root / "dagster-dev.log") as dev:
        yield dev


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, dagster: DagsterDev) -> Any:
    """A page in a fresh browser context (no stored UI state), the first-visit community dialog dismissed
    with "Skip" whenever it appears, as an engineer would."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=dagster.url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.set_default_navigation_timeout(2 * UI_TIMEOUT_MS)
    page = context.new_page()
    page.add_locator_handler(page.get_by_text("Join the Dagster community"),
                             lambda: page.get_by_role("button", name="Skip").click())
    return page


@pytest.fixture
def page(browser: Any, dagster: DagsterDev) -> Iterator[Any]:
    page = new_page(browser, dagster)
    try:
        yield page
    finally:
        page.context.close()


def open_page(page: Any, path: str) -> None:
    """``path`` loaded and the React app's first queries answered (the UI polls, so network idle is a hint
    only: each test then waits for the very text it needs)."""
    page.goto(path)
    with suppress(playwright_api.TimeoutError):
        page.wait_for_load_state("networkidle", timeout=15_000)


def shot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shown_as(label: str, name: str) -> bool:
    """Whether a node's ``label`` is ``name``, whole or as the graph middle-truncates it ("live_…_predictions")."""
    if label == name:
        return True
    head, ellipsis, tail = label.partition("…")
    return bool(ellipsis) and len(label) < len(name) and name.startswith(head) and name.endswith(tail)


def test_the_asset_graph_shows_every_asset_in_its_group(page: Any, screenshots: Path) -> None:
    open_page(page, "/asset-groups")
    graph = page.locator("[data-svg-viewport]")
    playwright_api.expect(graph.get_by_text("lake", exact=True).first).to_be_visible()
    # Room for the graph; then expand every group box (collapsed by default with several groups: Alt+E).
    page.get_by_role("button", name="Hide navigation").click()
    graph.focus()
    page.keyboard.press("Alt+e")
    playwright_api.expect(graph.get_by_text("training_set", exact=True)).to_be_visible()

    # Before any hovering: tooltips would cover nodes in the picture.
    path = shot(page, screenshots, "asset-graph")

    labels = [line.strip() for line in graph.inner_text().splitlines() if line.strip()]
    missing_groups = [group for group in GROUPS if group not in labels]
    assert not missing_groups, f"groups missing from the graph: {missing_groups}; it shows {labels}"
    for asset in (asset for assets in GROUPS.values() for asset in assets):
        shown = [label for label in labels if shown_as(label, asset)]
        assert shown, f"{asset} is missing from the asset graph; it shows {labels}"
        if shown[0] != asset:  # truncated: its tooltip must name it in full
            graph.get_by_text(shown[0], exact=True).hover()
            playwright_api.expect(page.get_by_role("tooltip").filter(has_text=asset)).to_be_visible()
    # The README's picture, refreshed only from a graph that passed.
    if os.environ.get("DAYSTOSELL_UPDATE_SCREENSHOTS") == "1":
        DOCS_GRAPH.parent.mkdir(exist_ok=True)
        shutil.copy(path, DOCS_GRAPH)


def materialize_button(page: Any) -> Any:
    # Its accessible name includes the icon's; the visible text is exactly "Materialize".
    return page.get_by_role("button").filter(has_text=re.compile(r"^\s*Materialize\s*$"))


@pytest.fixture(scope="module")
def taxonomy_run(browser: Any, dagster: DagsterDev, screenshots: Path) -> Run:
    """``taxonomy`` materialised by a click on its page's Materialize button, and the run that launched,
    waited for (its id from the GraphQL API: the one new run since the click)."""
    page = new_page(browser, dagster)
    try:
        open_page(page, "/assets/taxonomy")
        button = materialize_button(page)
        playwright_api.expect(button).to_be_enabled()
        before = dagster_dev.run_ids(dagster)
        button.click()
        run_id = dagster_dev.wait_new_run(dagster, before)
        status = dagster_dev.wait_run(dagster, run_id, RUN_TIMEOUT)
    finally:
        page.context.close()
    return Run(run_id=run_id, status=status, logs=dagster_dev.run_logs(dagster, run_id))


def test_materialize_from_the_ui_succeeds(taxonomy_run: Run, page: Any, screenshots: Path,
                                          dagster: DagsterDev) -> None:
    assert taxonomy_run.status == "SUCCESS", (
        f"run {taxonomy_run.run_id} launched from the UI ended {taxonomy_run.status} (waited up to "
        f"{RUN_TIMEOUT:.0f} s); its log:\n{taxonomy_run.logs}\n--- dagster dev:\n{dagster.output_tail()}")
    # The run page agrees: its status tag, and the asset and its two checks in the run's selection.
    open_page(page, f"/runs/{taxonomy_run.run_id}")
    playwright_api.expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    playwright_api.expect(page.get_by_text(f"{len(TAXONOMY_CHECKS)} checks", exact=True).first).to_be_visible()
    shot(page, screenshots, "taxonomy-run")


def test_the_asset_page_shows_passed_checks(taxonomy_run: Run, page: Any, screenshots: Path) -> None:
    assert taxonomy_run.status == "SUCCESS", f"no materialisation to look at: run {taxonomy_run.run_id} failed"
    open_page(page, "/assets/taxonomy?view=checks")
    playwright_api.expect(page.get_by_text(f"Checks ({len(TAXONOMY_CHECKS)})", exact=True)).to_be_visible()
    # The list says "Succeeded" under each check; the selected check's latest evaluation says "Passed".
    playwright_api.expect(page.get_by_text("Succeeded", exact=True)).to_have_count(len(TAXONOMY_CHECKS))
    for check in TAXONOMY_CHECKS:
        page.get_by_title(check, exact=True).first.click()
        playwright_api.expect(page).to_have_url(re.compile(re.escape(check)))
        playwright_api.expect(page.get_by_text("This is a blocking asset check.")).to_be_visible()
        playwright_api.expect(page.get_by_text("Passed", exact=True)).to_be_visible()
        shot(page, screenshots, f"asset-check-{check}")


def test_the_asset_page_shows_the_metadata_plots(taxonomy_run: Run, page: Any, screenshots: Path) -> None:
    assert taxonomy_run.status == "SUCCESS", f"no materialisation to look at: run {taxonomy_run.run_id} failed"
    open_page(page, "/assets/taxonomy")
    # Plots are Markdown holding a PNG data URI (profiling.image_markdown): too long to inline, so the
    # metadata table offers "[Show Markdown]", which renders them in a dialog.
    for plot in TAXONOMY_PLOTS:
        row = page.get_by_role("row").filter(has_text=plot)
        row.get_by_text("[Show Markdown]").click()
        dialog = page.get_by_role("dialog")
        image = dialog.locator("img[src^='data:image/png;base64,']")
        playwright_api.expect(image).to_be_visible()
        # Rendered, not merely present: the browser decoded the PNG into a picture with a size.
        try:
            page.wait_for_function("img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0",
                                   arg=image.element_handle(), timeout=15_000)
        except playwright_api.TimeoutError:
            pytest.fail(f"the {plot} plot is an <img> the browser could not decode into a picture")
        shot(page, screenshots, f"asset-plot-{plot}")
        dialog.get_by_role("button", name="Close").click()
        playwright_api.expect(dialog).to_be_hidden()


def test_the_sensors_are_listed_and_stopped(page: Any, screenshots: Path, dagster: DagsterDev) -> None:
    open_page(page, "/overview/automation")
    for sensor in SENSORS:
        link = page.locator(f"a[href$='/sensors/{sensor}']")
        playwright_api.expect(link).to_be_visible()
        playwright_api.expect(link).to_contain_text(sensor)
    shot(page, screenshots, "sensors")
    # DAYSTOSELL_AUTOMATION=off reached the code location: listed, but the daemon leaves them alone.
    statuses = dagster_dev.sensor_statuses(dagster)
    assert {name: statuses.get(name) for name in SENSORS} == dict.fromkeys(SENSORS, "STOPPED"), statuses
