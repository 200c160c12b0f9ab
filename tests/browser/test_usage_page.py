"""A tenant member watches its usage page in a real browser: an assist call made elsewhere shows
up without a reload, the page switches to French, and it fits a desktop and a phone screen."""

import base64

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from .conftest import ARTIFACTS, log_in, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "a-long-agent-password-1"
ASSIST_BODY = {"payload": {"messages": [{"role": "customer", "content": "Where is my parcel?"}]}}
LIVE_SECONDS = 15  # three polls of the page's 5 s rhythm
DESKTOP, PHONE = (1280, 900), (390, 844)


@pytest.fixture
def agent(make_tenant, make_user, token_for):
    """A member of a pro tenant with a web password, and its API Authorization header."""
    tenant = make_tenant("browser-usage", name="Browser Shop", plan="pro", timezone="Europe/Paris")
    user = make_user("agent@browser-usage.test", tenant=tenant, password=PASSWORD)
    return tenant.id, user.email, {"Authorization": f"Bearer {token_for(user)}"}


def calls_shown(browser) -> tuple[str, str]:
    element = browser.find_element(By.CSS_SELECTOR, '[data-field="calls"]')
    return element.get_attribute("data-value"), element.text


def screenshot(browser, name: str, size: tuple[int, int]) -> None:
    """Always saved (not only on failure): the whole page at that window size, as a reviewer
    would scroll through it."""
    browser.set_window_size(*size)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    width = browser.execute_script("return document.documentElement.clientWidth")
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"usage_page_{name}.png").write_bytes(base64.b64decode(shot["data"]))


def assert_fits_the_width(browser) -> None:
    """No sideways scrolling: nothing pokes out of the screen (wide tables scroll inside their
    own box). On failure, names the outermost elements that do."""
    overflow, culprits = browser.execute_script(
        """
        const width = document.documentElement.clientWidth;
        const sticksOut = (e) => e.getBoundingClientRect().right > width + 0.5;
        const culprits = [...document.body.querySelectorAll("*")]
          .filter((e) => sticksOut(e) && !sticksOut(e.parentElement)
            && getComputedStyle(e.parentElement).overflowX === "visible")
          .map((e) => e.outerHTML.slice(0, 120));
        return [document.documentElement.scrollWidth - width, culprits];
        """
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen: {culprits}"


def test_a_member_sees_its_calls_change_live_and_switches_to_french(app_server, agent, browser):
    # given the app under gunicorn as in production, and a member signed in at /accounts/login/
    server = app_server(workers=2)
    tenant_id, email, headers = agent
    browser.set_window_size(*DESKTOP)
    log_in(browser, f"{server.url}/accounts/login/", email=email, password=PASSWORD)
    assert browser.current_url == f"{server.url}/usage/"
    # and the card shows no call yet
    assert calls_shown(browser) == ("0", "0")
    assert (
        browser.find_element(By.CSS_SELECTOR, '[role="progressbar"]').get_attribute("aria-valuenow")
        == "0.000000"
    )

    browser.execute_script("window.kbzNotReloaded = true")  # gone if the page reloads

    # when the member makes an assist call through the API (fallback mode: no cost, one call)
    response = requests.post(
        f"{server.url}/ai/assist",
        json={"tenantId": tenant_id, **ASSIST_BODY},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text

    # then the open page shows it within a few polls, without a reload
    WebDriverWait(browser, LIVE_SECONDS).until(
        lambda b: calls_shown(b) == ("1", "1"),
        message=f"the calls figure did not reach 1 within {LIVE_SECONDS} s",
    )
    assert browser.execute_script("return window.kbzNotReloaded") is True
    screenshot(browser, "desktop", DESKTOP)
    assert_fits_the_width(browser)
    screenshot(browser, "phone", PHONE)
    assert_fits_the_width(browser)

    # when the member picks French in the language switcher
    Select(browser.find_element(By.ID, "language-select")).select_by_value("fr")
    browser.find_element(By.CSS_SELECTOR, ".language-switcher [type=submit]").click()

    # then the page comes back in French, on the same tenant
    wait_for(
        browser,
        lambda b: (
            b.find_elements(By.CSS_SELECTOR, "html[lang=fr]")
            and b.execute_script("return document.readyState") == "complete"
        ),
        message="the page did not switch to French",
    )
    card = browser.find_element(By.ID, "usage-card")
    assert card.get_attribute("data-tenant-id") == tenant_id
    assert calls_shown(browser) == ("1", "1")
    assert_fits_the_width(browser)
    screenshot(browser, "phone_fr", PHONE)
    screenshot(browser, "desktop_fr", DESKTOP)


STAFF_NOTICE = "You are reading this tenant's usage as KeyBuzz staff."


def notices(browser) -> list[str]:
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, "p.notice")]


def test_an_owner_sees_no_staff_notice_and_staff_reading_the_tenant_do(
    app_server, make_tenant, make_user, browser
):
    # given a tenant with an owner, and a staff member who is not one of its members
    server = app_server(workers=1)
    tenant = make_tenant("browser-notice", name="Notice Shop", plan="pro")
    owner = make_user("owner@browser-notice.test", tenant=tenant, role="owner", password=PASSWORD)
    staff = make_user("support@browser-notice.test", is_staff=True, password=PASSWORD)

    # when the owner opens its usage page
    log_in(browser, f"{server.url}/accounts/login/", email=owner.email, password=PASSWORD)
    assert browser.current_url == f"{server.url}/usage/"
    # then no staff notice is shown
    assert browser.find_element(By.ID, "usage-card").get_attribute("data-tenant-id") == tenant.id
    assert STAFF_NOTICE not in notices(browser)

    # when staff sign in and read the same tenant
    browser.delete_all_cookies()
    log_in(browser, f"{server.url}/accounts/login/", email=staff.email, password=PASSWORD)
    browser.get(f"{server.url}/usage/?tenantId={tenant.id}")
    # then the page says they read it as staff
    assert browser.find_element(By.ID, "usage-card").get_attribute("data-tenant-id") == tenant.id
    assert STAFF_NOTICE in notices(browser)
