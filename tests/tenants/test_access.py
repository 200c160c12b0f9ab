"""The tenant check of CONTRACT §3: members read and spend, staff read, inactive tenants refuse."""

import pytest
from rest_framework.test import APIClient

from tenants.models import Membership, Tenant

pytestmark = [pytest.mark.urls("tests.tenants.access_probe"), pytest.mark.django_db]

PROBE = "/ai/test-access"


def read(client: APIClient, tenant_id: str = "ecomlg-001"):
    return client.get(PROBE, {"tenantId": tenant_id})


def spend(client: APIClient, tenant_id: str = "ecomlg-001"):
    return client.post(PROBE, {"tenantId": tenant_id}, format="json")


def deactivate(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.json()["status"] == code


@pytest.fixture
def other_tenant(make_tenant) -> Tenant:
    return make_tenant("acme-002", plan="starter")


# --- members --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Membership.Role.values)
def test_a_member_reads_its_tenant_whatever_its_role(make_user, tenant, client_for, role):
    # given a member of the tenant with this role
    user = make_user(f"{role}@ecomlg.test", tenant=tenant, role=role)

    # when it reads the tenant
    response = read(client_for(user))

    # then it is allowed
    assert response.status_code == 200
    assert response.json()["tenantId"] == tenant.id


@pytest.mark.parametrize("role", Membership.Role.values)
def test_a_member_spends_on_its_tenant_whatever_its_role(make_user, tenant, client_for, role):
    # given a member of the tenant with this role
    user = make_user(f"{role}@ecomlg.test", tenant=tenant, role=role)

    # when it spends on the tenant
    response = spend(client_for(user))

    # then it is allowed
    assert response.status_code == 200
    assert response.json()["tenantId"] == tenant.id


def test_a_member_of_another_tenant_reading_this_one_is_403_forbidden(
    make_user, tenant, other_tenant, client_for
):
    # given a member of another tenant only
    outsider = make_user("agent@acme.test", tenant=other_tenant)

    # when it reads this tenant
    response = read(client_for(outsider))

    # then it is forbidden
    assert_error(response, 403, "forbidden")


def test_a_member_of_another_tenant_spending_on_this_one_is_403_forbidden(
    make_user, tenant, other_tenant, client_for
):
    # given a member of another tenant only
    outsider = make_user("agent@acme.test", tenant=other_tenant)

    # when it spends on this tenant
    response = spend(client_for(outsider))

    # then it is forbidden
    assert_error(response, 403, "forbidden")


def test_a_user_of_no_tenant_is_403_forbidden(make_user, tenant, client_for):
    # given a user who belongs to no tenant
    loner = make_user("loner@example.test")

    # when it reads a tenant
    response = read(client_for(loner))

    # then it is forbidden
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("call", [read, spend], ids=["read", "spend"])
def test_an_unknown_tenant_id_is_404_not_found(member, client_for, call):
    # given a member asking for a tenant that does not exist
    client = client_for(member)

    # when it calls for that tenant
    response = call(client, "no-such-tenant")

    # then it is not found
    assert_error(response, 404, "not_found")


def test_an_unauthenticated_caller_of_an_unknown_tenant_is_401_not_404(db):
    # given no credentials
    client = APIClient()

    # when it reads a tenant that does not exist
    response = read(client, "no-such-tenant")

    # then authentication is checked first and nothing is said about the tenant
    assert_error(response, 401, "unauthenticated")


# --- staff ----------------------------------------------------------------------------------


def test_staff_read_any_tenant(staff, tenant, other_tenant, client_for):
    # given a staff user who is a member of no tenant
    client = client_for(staff)

    # when it reads two tenants
    statuses = [read(client, tenant.id).status_code, read(client, other_tenant.id).status_code]

    # then both are allowed
    assert statuses == [200, 200]


def test_staff_spending_on_a_tenant_they_are_not_a_member_of_is_403(staff, tenant, client_for):
    # given a staff user who is not a member of the tenant
    client = client_for(staff)

    # when it spends on that tenant
    response = spend(client)

    # then staff never spend a customer's budget
    assert_error(response, 403, "forbidden")


def test_staff_who_are_members_spend_as_members(make_user, tenant, client_for):
    # given a staff user who is also a member of the tenant
    user = make_user("support-agent@keybuzz.test", tenant=tenant, is_staff=True)

    # when it spends on that tenant
    response = spend(client_for(user))

    # then membership grants it
    assert response.status_code == 200


def test_staff_reading_an_unknown_tenant_is_404(staff, client_for):
    # given a staff user
    client = client_for(staff)

    # when it reads a tenant that does not exist
    response = read(client, "no-such-tenant")

    # then it is not found
    assert_error(response, 404, "not_found")


# --- inactive tenants -----------------------------------------------------------------------


@pytest.mark.parametrize("call", [read, spend], ids=["read", "spend"])
def test_a_member_of_an_inactive_tenant_is_403_tenant_inactive(member, tenant, client_for, call):
    # given a member of a tenant that was deactivated
    deactivate(tenant)

    # when it calls for that tenant
    response = call(client_for(member))

    # then it is refused as inactive
    assert_error(response, 403, "tenant_inactive")


def test_staff_read_an_inactive_tenant(staff, tenant, client_for):
    # given a deactivated tenant
    deactivate(tenant)

    # when staff read it
    response = read(client_for(staff))

    # then they are allowed
    assert response.status_code == 200


def test_staff_member_spending_on_an_inactive_tenant_is_403_tenant_inactive(
    make_user, tenant, client_for
):
    # given a staff user who is a member of a deactivated tenant
    user = make_user("support-agent@keybuzz.test", tenant=tenant, is_staff=True)
    deactivate(tenant)

    # when it spends on that tenant
    response = spend(client_for(user))

    # then nobody spends on an inactive tenant
    assert_error(response, 403, "tenant_inactive")


def test_a_non_member_of_an_inactive_tenant_is_403_forbidden(
    make_user, tenant, other_tenant, client_for
):
    # given a member of another tenant, and this tenant deactivated
    outsider = make_user("agent@acme.test", tenant=other_tenant)
    deactivate(tenant)

    # when it reads this tenant
    response = read(client_for(outsider))

    # then it is forbidden, learning nothing about the tenant's state
    assert_error(response, 403, "forbidden")


# --- the tenantId parameter -----------------------------------------------------------------


@pytest.mark.parametrize("query", [{}, {"tenantId": ""}], ids=["absent", "empty"])
def test_a_read_without_tenant_id_is_400_with_errors_tenant_id(member, client_for, query):
    # given a member
    client = client_for(member)

    # when it reads without naming a tenant
    response = client.get(PROBE, query)

    # then it is told which field is missing
    assert_error(response, 400, "invalid_request")
    assert list(response.json()["errors"]) == ["tenantId"]
    assert response.json()["errors"]["tenantId"]


def test_a_spend_without_tenant_id_is_400_with_errors_tenant_id(member, client_for):
    # given a member
    client = client_for(member)

    # when it spends without naming a tenant
    response = client.post(PROBE, {}, format="json")

    # then it is told which field is missing
    assert_error(response, 400, "invalid_request")
    assert list(response.json()["errors"]) == ["tenantId"]
