"""Tenant isolation over every endpoint and every kind of caller (CONTRACT §3)."""

import json

import pytest
from rest_framework.test import APIClient

from tenants.models import Membership
from tests.conftest import SERVICE_KEY

pytestmark = pytest.mark.django_db

ASSIST_BODY = {"payload": {"messages": [{"role": "customer", "content": "Where is my order?"}]}}


@pytest.fixture
def world(make_tenant, make_user, settings):
    """Tenants A and B (B with history), and one caller of each kind."""
    settings.KEYBUZZ = {**settings.KEYBUZZ, "LITELLM_MASTER_KEY": ""}  # fallback: no upstream
    a, b = make_tenant("tenant-a", name="Shop A"), make_tenant("tenant-b", name="Shop B")
    inactive = make_tenant("tenant-off", name="Closed Shop")
    inactive.is_active = False
    inactive.save()
    users = {
        **{role: make_user(f"{role}@a.test", tenant=a, role=role) for role in Membership.Role},
        "member_of_b": make_user("agent@b.test", tenant=b),
        "staff": make_user("support@kb.test", is_staff=True),
        "staff_member_of_a": make_user("staff-agent@kb.test", tenant=a, is_staff=True),
        "member_of_inactive": make_user("agent@off.test", tenant=inactive),
    }
    return users


def call(client, endpoint: str, tenant_id: str | None):
    params = {"tenantId": tenant_id} if tenant_id else {}
    if endpoint == "assist":
        return client.post("/ai/assist", {**ASSIST_BODY, **params}, format="json")
    path = {
        "status": "/ai/assist/status",
        "today": "/admin/ai/usage/today",
        "history": "/admin/ai/usage",
    }[endpoint]
    return client.get(path, params)


def client_as(user, token_for) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


ENDPOINTS = ["assist", "status", "today", "history"]
READS = ["status", "today", "history"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", list(Membership.Role))
def test_every_role_uses_its_own_tenant(world, token_for, endpoint, role):
    response = call(client_as(world[role], token_for), endpoint, "tenant-a")
    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", [*Membership.Role, "member_of_b"])
def test_no_member_reaches_another_tenant(world, token_for, endpoint, role):
    # given a member of one tenant, when it names the other one
    other = "tenant-b" if role != "member_of_b" else "tenant-a"
    response = call(client_as(world[role], token_for), endpoint, other)
    # then 403, and nothing of the other tenant in the answer
    assert (response.status_code, response.json()["status"]) == (403, "forbidden")
    assert other not in json.dumps(response.json())


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_callers_get_401_everywhere(world, endpoint):
    assert call(APIClient(), endpoint, "tenant-a").status_code == 401


@pytest.mark.parametrize("endpoint", READS)
@pytest.mark.parametrize("tenant_id", ["tenant-a", "tenant-b", "tenant-off"])
def test_staff_read_every_tenant(world, token_for, endpoint, tenant_id):
    assert call(client_as(world["staff"], token_for), endpoint, tenant_id).status_code == 200


@pytest.mark.parametrize("tenant_id", ["tenant-a", "tenant-b"])
def test_staff_never_spend_a_tenants_budget(world, token_for, tenant_id):
    response = call(client_as(world["staff"], token_for), "assist", tenant_id)
    assert response.status_code == 403


def test_staff_who_are_members_spend_as_members(world, token_for):
    response = call(client_as(world["staff_member_of_a"], token_for), "assist", "tenant-a")
    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_members_of_an_inactive_tenant_are_refused(world, token_for, endpoint):
    response = call(client_as(world["member_of_inactive"], token_for), endpoint, "tenant-off")
    assert (response.status_code, response.json()["status"]) == (403, "tenant_inactive")


@pytest.mark.parametrize("role", [*Membership.Role, "member_of_b"])
def test_only_staff_read_the_whole_platform(world, token_for, role):
    assert call(client_as(world[role], token_for), "history", None).status_code == 403


def test_staff_read_the_whole_platform(world, token_for):
    assert call(client_as(world["staff"], token_for), "history", None).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_trusted_proxy_has_exactly_its_users_rights(world, endpoint):
    proxy = APIClient()
    proxy.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_KEY}", HTTP_X_USER_EMAIL="agent@a.test")
    assert call(proxy, endpoint, "tenant-a").status_code == 200
    assert call(proxy, endpoint, "tenant-b").status_code == 403


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_x_user_email_without_the_service_key_is_never_trusted(world, endpoint):
    impostor = APIClient()
    impostor.credentials(HTTP_X_USER_EMAIL="support@kb.test")
    assert call(impostor, endpoint, "tenant-a").status_code == 401


def test_the_staff_console_is_for_staff_only(world, client):
    # anonymous and non-staff users are sent to the console's login page
    assert client.get("/staff/").status_code == 302
    client.force_login(world["owner"])
    assert client.get("/staff/").status_code == 302
    assert client.get("/staff/ai/aiglobalsettings/1/change/").status_code == 302
    # staff get in
    client.force_login(world["staff"])
    assert client.get("/staff/").status_code == 200
