"""A headless Debian Chromium driven by Selenium through /usr/bin/chromedriver, trusting the bridge's certificate."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.console.png import distinct_colours

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
T = TypeVar("T")


def start_browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    options.add_argument("--disable-gpu")
    options.accept_insecure_certs = True  # the bridge's self-signed certificate
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


def wait_for(condition: Callable[[], T | None], timeout: float = 10.0, message: str = "condition") -> T:
    """``condition()`` once it is truthy; an element not there yet (the next page still loading) or gone stale
    (the page replaced under it) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.1)


def by_id(driver: webdriver.Chrome, element_id: str) -> WebElement:
    return driver.find_element(By.ID, element_id)


def screenshot(driver: webdriver.Chrome, folder: Path, name: str) -> Path:
    """Save the page as ``folder/name.png`` and check it is not blank (size and distinct colours)."""
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path))
    assert path.stat().st_size > 8_000, f"{name}: screenshot is suspiciously small"
    # A quarter-scale capture is small enough to decode in pure Python and count its colours.
    small = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "clip": {"x": 0, "y": 0, "width": 1280, "height": 900, "scale": 0.25}},
    )
    colours = distinct_colours(base64.b64decode(small["data"]))
    assert colours >= 8, f"{name}: only {colours} colours: the page looks blank"
    return path
