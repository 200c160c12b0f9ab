"""Alerts in the staff console: the list, the platform threshold page, webhook endpoints and
their secret, the tenant page's alert percents and endpoint inline, and the groups' rights."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages

from alerts.models import AlertSettings, WebhookEndpoint
from tenants.models import Tenant
from tests.alerts.conftest import refuse, spend
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.tenants.test_admin import change_form_data

pytestmark = pytest.mark.django_db

ALERTS = "/staff/alerts/alert/"
SETTINGS = "/staff/alerts/alertsettings/"
ENDPOINTS = "/staff/alerts/webhookendpoint/"


@pytest.fixture
def console(client, make_user):
    client.force_login(make_user("root@keybuzz.test", is_staff=True, is_superuser=True))
    return client


def in_group(make_user, name: str):
    user = make_user(f"{name.split()[0].lower()}@keybuzz.test", is_staff=True)
    user.groups.add(Group.objects.get(name=name))
    return user


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_alert_list_shows_each_deliverys_status_attempts_and_last_error(
    console, tenant, deliver, webhook_for
):
    # given an alert whose email was sent and whose webhook failed once
    with WebhookReceiver(then=500) as receiver:
        webhook_for(tenant, receiver.url)
        spend(tenant, "8.5")
        deliver()
    # then the list says so
    page = console.get(ALERTS).content.decode()
    assert "budget threshold passed" in page
    assert "email: sent (1 attempt)<br>webhook: pending (1 attempt, HTTP 500)" in page


@pytest.mark.parametrize(
    "query",
    ["?kind=budget_blocked", "?delivery_status=pending", "?q=ecomlg", "?day__gte=2020-01-01"],
)
def test_the_alert_list_filters_and_searches(console, tenant, query):
    refuse(tenant)
    response = console.get(ALERTS + query)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


def test_the_alert_settings_list_is_its_single_page_and_changes_are_logged(console):
    assert console.get(SETTINGS).url == f"{SETTINGS}1/change/"
    response = console.post(f"{SETTINGS}1/change/", {"platform_daily_usd": "250"})
    assert response.status_code == 302
    assert AlertSettings.objects.get().platform_daily_usd == 250


def test_a_new_endpoints_secret_is_shown_once_then_only_hinted(console, tenant):
    # when staff add an endpoint for the tenant
    response = console.post(
        f"{ENDPOINTS}add/", {"tenant": tenant.id, "url": "https://hooks.example.com/kbz",
                             "is_active": "on"}, follow=True,
    )  # fmt: skip
    endpoint = WebhookEndpoint.objects.get()
    # then the confirmation shows its secret, and its page afterwards only a hint of it
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert any(endpoint.secret in message for message in messages_of(response))
    page = console.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in page
    assert endpoint.secret[-4:] in page


def test_an_endpoint_must_be_http_or_https(console, tenant):
    response = console.post(
        f"{ENDPOINTS}add/", {"tenant": tenant.id, "url": "ftp://files.example.com/x"}
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_regenerating_the_secret_shows_the_new_one_once(console, tenant, webhook_for):
    endpoint = webhook_for(tenant, "https://hooks.example.com/kbz")
    old = endpoint.secret
    response = console.post(
        ENDPOINTS, {"action": "regenerate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert any(endpoint.secret in message for message in messages_of(response))


def test_the_tenant_page_edits_alert_percents_and_adds_a_webhook_endpoint(console, tenant):
    url = f"/staff/tenants/tenant/{tenant.id}/change/"
    data = change_form_data(console.get(url))
    data.update({
        "alert_percents": "[50, 90, 100]",
        "webhook_endpoint-TOTAL_FORMS": "1",
        "webhook_endpoint-0-url": "https://hooks.example.com/kbz",
        "webhook_endpoint-0-is_active": "on",
    })  # fmt: skip
    response = console.post(url, data, follow=True)
    assert response.status_code == 200
    assert Tenant.objects.get().alert_percents == [50, 90, 100]
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert any(endpoint.secret in message for message in messages_of(response))


@pytest.mark.parametrize(
    "percents", ["[80, 80]", "[0, 100]", "[120]", "[1, 2, 3, 4, 5, 6]", '["80"]', "80"]
)
def test_the_tenant_page_refuses_bad_alert_percents(console, tenant, percents):
    url = f"/staff/tenants/tenant/{tenant.id}/change/"
    data = {**change_form_data(console.get(url)), "alert_percents": percents}
    response = console.post(url, data)
    assert response.status_code == 200
    assert "alert_percents" in response.context["adminform"].form.errors
    assert Tenant.objects.get().alert_percents is None


def test_both_groups_see_the_alert_pages(client, make_user):
    for name in ("Support", "Billing admin"):
        client.force_login(in_group(make_user, name))
        for path in (ALERTS, ENDPOINTS, f"{SETTINGS}1/change/"):
            assert client.get(path).status_code == 200, (name, path)


def test_support_may_resend_but_not_set_the_platform_threshold(client, make_user, tenant):
    refuse(tenant)
    client.force_login(in_group(make_user, "Support"))
    actions = client.get(ALERTS).context["action_form"].fields["action"].choices
    assert "resend" in dict(actions)
    client.post(f"{SETTINGS}1/change/", {"platform_daily_usd": "1"})
    assert AlertSettings.objects.get().platform_daily_usd is None


def test_billing_admins_set_the_platform_threshold_but_do_not_resend(client, make_user, tenant):
    refuse(tenant)
    client.force_login(in_group(make_user, "Billing admin"))
    assert client.get(ALERTS).context["action_form"] is None
    client.post(f"{SETTINGS}1/change/", {"platform_daily_usd": "1"})
    assert AlertSettings.objects.get().platform_daily_usd == 1
