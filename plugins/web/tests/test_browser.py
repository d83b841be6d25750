"""The page in a real browser: Debian's chromium, headless, driven by
Selenium through chromium-driver (nothing downloads a browser). Against an
agent recording the testsrc pattern into the simulator (issue 13).

Screenshots go to ``test-artifacts/web/`` at the repository root.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator
from ocframe_web.testing import running_page, wait_until, web_config

from ocframe.testing.harness import soon

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "web"

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium and chromium-driver are not installed (apt-get install chromium"
           " chromium-driver)")]


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1400", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: object, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path


def test_operator_sees_a_recording_with_preview_and_records_ad_hoc(
    opencast_simulator: OpencastSimulator, tmp_path: Path, browser: object,
    caplog: pytest.LogCaptureFixture
) -> None:
    from selenium.webdriver.common.by import By

    caplog.set_level(logging.INFO)  # as `ocframe run` logs: the page shows the lines

    d = browser
    sim = opencast_simulator
    cfg = web_config(tmp_path, sim, "lecture-hall-1")
    # Far enough ahead to be "next" for a while: inputs are launched (and the
    # recording begun) up to about 5 s before the window.
    uid = sim.add_event(agent="lecture-hall-1", start=soon(10), end=soon(23),
                        title="Linear Algebra, lecture 7")

    def css(selector: str) -> list:  # type: ignore[type-arg]
        return d.find_elements(By.CSS_SELECTOR, selector)  # type: ignore[attr-defined]

    # The page re-renders every second: read in one script call, so an
    # element cannot go stale between finding and reading it.
    def js(script: str, *args: object) -> object:
        return d.execute_script(script, *args)  # type: ignore[attr-defined]

    def text_of(selector: str) -> str:
        return str(js("const e = document.querySelector(arguments[0]);"
                      " return e ? e.innerText : '';", selector))

    def attr(selector: str, name: str) -> str | None:
        return js("const e = document.querySelector(arguments[0]);"  # type: ignore[return-value]
                  " return e ? e.getAttribute(arguments[1]) : null;", selector, name)

    with running_page(cfg) as (_, page):
        d.get(page.url + "/")  # type: ignore[attr-defined]
        wait_until(lambda: "idle" in text_of(".agent .state"), 20, "the agent card, idle")
        assert "Linear Algebra, lecture 7" in text_of(".agent .next")

        # The scheduled recording runs: its still changes and its tone has a level.
        wait_until(lambda: css(f'.run[data-recording="{uid}"]'), 30, "the running recording")
        assert "capturing" in text_of(".agent .state")

        def still() -> str | None:
            return js("const i = document.querySelector(arguments[0]);"  # type: ignore[return-value]
                      " return i && i.complete && i.naturalWidth > 0"
                      " ? i.dataset.imageTime : null;",
                      f'.run[data-recording="{uid}"] img.preview')

        first = wait_until(still, 20, "a preview still")
        wait_until(lambda: (now := still()) and now != first, 20, "a newer preview still")
        level = wait_until(lambda: attr(".run .level", "data-level"), 20, "an audio level")
        assert -30 < float(level) < -10
        assert "dBFS" in text_of(".run .level")
        shot(d, "recording")

        # It ends and is ingested; the page says so.
        assert sim.wait_for_ingest(uid, timeout=60) is not None
        wait_until(lambda: "upload_finished" in text_of(f'.rec[data-id="{uid}"] .state'), 30,
                   "upload_finished on the page")
        wait_until(lambda: "idle" in text_of(".agent .state"), 20, "the agent idle again")

        # An ad-hoc recording from the page: start ...
        form = css("form.adhoc")[0]
        title = form.find_element(By.NAME, "title")
        title.clear()
        title.send_keys("Unscheduled guest talk")
        duration = form.find_element(By.NAME, "duration")
        duration.clear()
        duration.send_keys("30m")
        form.find_element(By.CSS_SELECTOR, "button.start").click()
        rid = wait_until(lambda: attr(".run", "data-recording"), 20, "the ad-hoc recording")
        assert rid != uid and "ad-hoc" in text_of(".run")
        wait_until(lambda: css(".run img.preview"), 20, "the ad-hoc preview")
        shot(d, "ad-hoc-recording")
        # ... and stop now (the page asks first).
        js("document.querySelector('.run button.stop').click()")
        d.switch_to.alert.accept()  # type: ignore[attr-defined]
        ingest = sim.wait_for_ingest(rid, timeout=60)
        assert ingest is not None
        assert ingest.dublin_core["title"] == ["Unscheduled guest talk"]
        assert ingest.dublin_core["spatial"] == ["lecture-hall-1"]
        wait_until(lambda: "upload_finished" in text_of(f'.rec[data-id="{rid}"] .state'), 30,
                   "the ad-hoc recording ingested on the page")
        js("document.querySelector(arguments[0]).open = true",
           f'.rec[data-id="{rid}"] details')
        assert "ingested" in text_of("#logs")
        assert not css(f'.rec[data-id="{rid}"] button.retry')  # ingested: no second event
        shot(d, "finished")
        d.set_window_size(412, 915)  # type: ignore[attr-defined]
        shot(d, "phone")
