"""Support turns the global kill switch on from the staff console, in a real browser, and the
next assist call, served by another process, is refused."""

import pytest
import requests
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from .conftest import log_in, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "a-long-support-password-1"
ASSIST_BODY = {"payload": {"messages": [{"role": "customer", "content": "Bonjour"}]}}


@pytest.fixture
def support(make_user):
    """A staff member of the Support group (group and permissions come from a migration)."""
    user = make_user("support@keybuzz.test", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def agent_headers(make_tenant, make_user, token_for) -> tuple[str, dict]:
    """A tenant and the Authorization header of one of its agents."""
    tenant = make_tenant("browser-1", plan="pro")
    agent = make_user("agent@browser.test", tenant=tenant)
    return tenant.id, {"Authorization": f"Bearer {token_for(agent)}"}


def test_support_turning_the_global_kill_switch_on_sees_the_banner_and_assist_answers_503(
    app_server, support, agent_headers, browser
):
    # given the app under gunicorn (its static files collected, as in production), and Support
    # signed in to the staff console
    server = app_server(workers=2)
    tenant_id, headers = agent_headers
    log_in(browser, f"{server.url}/staff/login/", email=support.email, password=PASSWORD)

    # when they open the global AI settings, tick the switch, give a reason, confirm, and save
    browser.get(f"{server.url}/staff/ai/aiglobalsettings/1/change/")
    switch = browser.find_element(By.NAME, "global_kill_switch")
    assert not switch.is_selected(), "the global kill switch was already on"
    switch.click()
    browser.find_element(By.NAME, "reason").send_keys("Provider incident #42")
    browser.find_element(By.NAME, "confirm").click()
    browser.find_element(By.NAME, "_save").click()
    wait_for(browser, expected_conditions.staleness_of(switch), message="Save did not submit")

    # then the admin page they land on shows the red banner
    wait_for(
        browser,
        expected_conditions.visibility_of_element_located((By.ID, "kill-switch-banner")),
        message="no visible #kill-switch-banner after saving the global kill switch",
    )
    # and right after, a tenant's assist call is refused with the global switch as the reason
    response = requests.post(
        f"{server.url}/ai/assist",
        json={"tenantId": tenant_id, **ASSIST_BODY},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["status"], body["reason"]) == ("ai_disabled", "global_kill_switch"), body
