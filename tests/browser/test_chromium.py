"""The suite drives Debian's Chromium through Debian's chromedriver, nothing downloaded."""

import subprocess
from pathlib import Path

from .conftest import CHROMEDRIVER, CHROMIUM


def _version(executable: Path) -> str:
    """`Chromium 131.0.6778.85 built on Debian…` → "131.0.6778.85"."""
    output = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return next(word for word in output.split() if word[:1].isdigit())


def test_the_browser_is_debians_chromium_through_debians_chromedriver(browser):
    # given the browser fixture's Chromium
    # when we ask it what it is
    capabilities = browser.capabilities
    # then it is /usr/bin/chromium's version, driven by /usr/bin/chromedriver's, headless
    assert browser.service.path == str(CHROMEDRIVER)
    assert capabilities["browserVersion"] == _version(CHROMIUM)
    assert capabilities["chrome"]["chromedriverVersion"].split()[0] == _version(CHROMEDRIVER)
    assert "HeadlessChrome" in browser.execute_script("return navigator.userAgent")
