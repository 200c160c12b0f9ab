"""The browser suite: Debian's Chromium, headless, driven through Debian's chromedriver, against
the app under gunicorn on PostgreSQL (the `app_server` fixture), as a staff member uses it.

It starts a browser and a server per test, so only `make test-browser` runs it: without
KEYBUZZ_BROWSER=1 every test here is skipped, with the reason. With it, a missing chromium or
chromedriver skips locally and fails under CI=true. Nothing is ever downloaded: the driver is
given by path, so Selenium Manager is never asked (and SE_OFFLINE=true if it were).

A failed test leaves a screenshot and the page source in test-artifacts/ (gitignored).
"""

import os
import re
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.conf import global_settings
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import REPO_ROOT

ENABLED = os.environ.get("KEYBUZZ_BROWSER") == "1"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless, no sandbox (CI runs as root in a container), and none of Chromium's own traffic.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1024",
)
WAIT_SECONDS = 10
ARTIFACTS = REPO_ROOT / "test-artifacts"


def pytest_report_header(config):
    if not ENABLED:
        return "tests/browser: skipped (KEYBUZZ_BROWSER=1 or make test-browser)"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture starts: skip unless asked for; no Debian browser fails under CI=true."""
    if not ENABLED:
        pytest.skip("browser suite: set KEYBUZZ_BROWSER=1 (make test-browser) to run it")
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        reason = f"needs {', '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true does not allow skipping it)")
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test saves what its browser showed (before the fixture quits it)."""
    outcome = yield
    report = outcome.get_result()
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.failed and report.when == "call" and browser is not None:
        saved = _save_artifacts(browser, name=re.sub(r"[^\w.-]+", "_", item.nodeid))
        report.sections.append(("browser artifacts", saved))


def _save_artifacts(browser: WebDriver, *, name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot, source = ARTIFACTS / f"{name}.png", ARTIFACTS / f"{name}.html"
    try:
        url = browser.current_url
        browser.save_screenshot(str(screenshot))
        source.write_text(browser.page_source, encoding="utf-8")
    except WebDriverException as error:  # the browser itself is what broke
        return f"could not save them: {error.msg}"
    return f"at {url}\n{screenshot}\n{source}"


def chrome_options() -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return options


def _selenium_manager_called(*args, **kwargs):
    raise AssertionError("Selenium Manager was asked for a driver: it must never download one")


@pytest.fixture(autouse=True)
def server_password_hashers(settings):
    """Users are made here but sign in on the server, which runs the production settings (Django's
    default hashers): hash their passwords as it does, not with the test settings' fast MD5."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS


@pytest.fixture
def browser(monkeypatch):
    """One headless Chromium for the test, always quit after it."""
    monkeypatch.setenv("SE_OFFLINE", "true")
    service = Service(executable_path=str(CHROMEDRIVER))
    with mock.patch.object(SeleniumManager, "binary_paths", _selenium_manager_called):
        driver = webdriver.Chrome(service=service, options=chrome_options())
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(browser: WebDriver, condition, *, message: str):
    """Wait up to WAIT_SECONDS for `condition(browser)` to be truthy, and return it."""
    return WebDriverWait(browser, WAIT_SECONDS).until(condition, message=message)


def log_in(browser: WebDriver, login_url: str, *, email: str, password: str) -> None:
    """Sign in through a real login form (the staff console's or /accounts/login/: both name
    their fields username and password), and fail with the form's error if it is refused."""
    browser.get(login_url)
    password_field = browser.find_element(By.NAME, "password")
    form = password_field.find_element(By.XPATH, "./ancestor::form")  # not the language switcher
    form.find_element(By.NAME, "username").send_keys(email)
    password_field.send_keys(password)
    form.find_element(By.CSS_SELECTOR, "[type=submit]").click()
    login_path = urlsplit(login_url).path
    wait_for(
        browser,
        lambda b: urlsplit(b.current_url).path != login_path or _login_errors(b),
        message=f"the login form at {login_url} neither redirected nor showed an error",
    )
    errors = _login_errors(browser)
    assert not errors, f"login refused for {email}: {errors[0].text}"


def _login_errors(browser: WebDriver) -> list:
    return browser.find_elements(By.CSS_SELECTOR, ".errornote, .error, .errorlist")
