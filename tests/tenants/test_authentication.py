"""The authentication matrix of CONTRACT §3: API tokens, the trusted proxy, the browser session."""

import hashlib

import pytest
from rest_framework.test import APIClient

from tenants.models import ApiToken
from tenants.tokens import api_token_issue, api_tokens_revoke
from tests.conftest import SERVICE_KEY

pytestmark = [pytest.mark.urls("tests.tenants.access_probe"), pytest.mark.django_db]

PROBE = "/ai/test-access"


def read_tenant(client: APIClient, tenant_id: str = "ecomlg-001", **headers):
    return client.get(PROBE, {"tenantId": tenant_id}, **headers)


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["status"] == "unauthenticated"
    assert response.json()["message"]


# --- no credentials -------------------------------------------------------------------------


def test_no_credentials_is_401_unauthenticated(tenant):
    # given a client with no credentials at all
    client = APIClient()

    # when it reads a tenant
    response = read_tenant(client)

    # then it gets the contract's 401 JSON
    assert_unauthenticated(response)


def test_no_credentials_401_has_a_www_authenticate_header(tenant):
    # given a client with no credentials at all
    client = APIClient()

    # when it reads a tenant
    response = read_tenant(client)

    # then the 401 says how to authenticate
    assert response.status_code == 401
    assert response["WWW-Authenticate"].lower().startswith("bearer")


def test_no_credentials_on_a_post_is_401_not_a_csrf_403(tenant):
    # given a client with no credentials and no CSRF token
    client = APIClient(enforce_csrf_checks=True)

    # when it posts
    response = client.post(PROBE, {"tenantId": tenant.id}, format="json")

    # then authentication is what fails
    assert_unauthenticated(response)


def test_an_unknown_authorization_scheme_is_401(member):
    # given credentials in a scheme the API does not know
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic YWdlbnQ6cGFzc3dvcmQ=")

    # when it reads a tenant
    response = read_tenant(client)

    # then it is not authenticated
    assert_unauthenticated(response)


# --- API tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
def test_a_token_authenticates_its_user_in_either_scheme(member, token_for, scheme):
    # given a member's token sent with the scheme
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token_for(member)}")

    # when it reads its tenant
    response = read_tenant(client)

    # then it acts as that member
    assert response.status_code == 200
    assert response.json()["user"] == member.email


def test_an_unknown_token_is_401(member):
    # given a token that was never issued
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer kbz_never-issued-0123456789abcdef")

    # when it reads a tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_an_invalid_token_401_has_a_www_authenticate_header(member):
    # given a token that was never issued
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer kbz_never-issued-0123456789abcdef")

    # when it reads a tenant
    response = read_tenant(client)

    # then the 401 still says how to authenticate
    assert response.status_code == 401
    assert response["WWW-Authenticate"].lower().startswith("bearer")


def test_a_revoked_token_is_401(member, token_for):
    # given a member's token, then revoked
    raw_token = token_for(member)
    api_tokens_revoke(user=member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    # when it reads its tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_the_token_of_an_inactive_user_is_401(member, token_for):
    # given a token of a user who was then deactivated
    raw_token = token_for(member)
    member.is_active = False
    member.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    # when it reads its tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer a b", "Token", "Token a b"],
    ids=["bearer-alone", "bearer-blank", "bearer-two-parts", "token-alone", "token-two-parts"],
)
def test_a_malformed_authorization_header_is_401(member, header):
    # given a malformed Authorization header
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    # when it reads a tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_a_user_may_hold_several_tokens_and_each_works(member, token_for):
    # given a member with two tokens
    tokens = [token_for(member), token_for(member)]

    # when each token reads the tenant
    statuses = []
    for raw_token in tokens:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
        statuses.append(read_tenant(client).status_code)

    # then both are accepted
    assert statuses == [200, 200]


def test_revoking_one_token_by_prefix_leaves_the_others_working(member):
    # given a member with two tokens, the first revoked by its prefix
    revoked, revoked_raw = api_token_issue(user=member)
    _, kept_raw = api_token_issue(user=member)
    api_tokens_revoke(user=member, prefix=revoked.prefix)

    # when each token reads the tenant
    statuses = []
    for raw_token in (revoked_raw, kept_raw):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
        statuses.append(read_tenant(client).status_code)

    # then only the revoked one is refused
    assert statuses == [401, 200]


def test_tokens_are_stored_as_digests_only(member):
    # given a freshly issued token
    token, raw_token = api_token_issue(user=member)

    # when its row is read back from the database
    stored = ApiToken.objects.filter(pk=token.pk).values().get()

    # then the clear token appears in no column, only its SHA-256 digest does
    assert raw_token not in [str(value) for value in stored.values()]
    assert stored["digest"] == hashlib.sha256(raw_token.encode()).hexdigest()


# --- the trusted frontend proxy -------------------------------------------------------------


def proxy_client(email: str | None, *, key: str = SERVICE_KEY) -> APIClient:
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if email is not None:
        headers["HTTP_X_USER_EMAIL"] = email
    client.credentials(**headers)
    return client


def test_the_service_key_with_x_user_email_acts_as_that_user(member):
    # given the proxy's service key and a member's email
    client = proxy_client(member.email)

    # when it reads the member's tenant
    response = read_tenant(client)

    # then it acts as that member
    assert response.status_code == 200
    assert response.json()["user"] == member.email


def test_the_proxy_matches_x_user_email_case_insensitively(member):
    # given the proxy's service key and the member's email in another case
    client = proxy_client("  Agent@ECOMLG.test ")

    # when it reads the member's tenant
    response = read_tenant(client)

    # then it acts as that member
    assert response.status_code == 200
    assert response.json()["user"] == member.email


def test_the_proxy_may_spend_as_the_member(member):
    # given the proxy's service key and a member's email
    client = proxy_client(member.email)

    # when it posts for the member's tenant
    response = client.post(PROBE, {"tenantId": "ecomlg-001"}, format="json")

    # then it is accepted without any CSRF token
    assert response.status_code == 200


def test_the_service_key_without_x_user_email_is_401(member):
    # given the service key alone
    client = proxy_client(None)

    # when it reads a tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_the_service_key_with_a_blank_x_user_email_is_401(member):
    # given the service key with an empty X-User-Email
    client = proxy_client("   ")

    # when it reads a tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_the_service_key_with_an_unknown_email_is_401(member):
    # given the service key and an email no user has
    client = proxy_client("nobody@ecomlg.test")

    # when it reads a tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_the_service_key_with_an_inactive_users_email_is_401(member):
    # given the service key and the email of a deactivated member
    member.is_active = False
    member.save(update_fields=["is_active"])
    client = proxy_client(member.email)

    # when it reads the tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_x_user_email_alone_is_never_trusted(member):
    # given an X-User-Email header and no credentials
    client = APIClient()
    client.credentials(HTTP_X_USER_EMAIL=member.email)

    # when it reads the member's tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_x_user_email_beside_a_users_token_is_ignored(member, make_user, token_for, tenant):
    # given user A's own token and the X-User-Email of user B
    other = make_user("owner@ecomlg.test", tenant=tenant, role="owner")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {token_for(member)}", HTTP_X_USER_EMAIL=other.email
    )

    # when it reads the tenant
    response = read_tenant(client)

    # then it acts as A, the token's owner
    assert response.status_code == 200
    assert response.json()["user"] == member.email


def test_a_wrong_service_key_with_x_user_email_is_401(member):
    # given a key that is not the service key, with a member's email
    client = proxy_client(member.email, key=SERVICE_KEY[:-1] + "X")

    # when it reads the member's tenant
    response = read_tenant(client)

    # then it is refused
    assert_unauthenticated(response)


def test_the_proxy_mode_is_off_when_the_service_key_is_unset(member, settings):
    # given KEYBUZZ_SERVICE_KEY unset, and a caller sending the formerly configured key
    settings.KEYBUZZ = {**settings.KEYBUZZ, "SERVICE_KEY": ""}
    client = proxy_client(member.email)

    # when it reads the member's tenant
    response = read_tenant(client)

    # then nobody is trusted as the proxy
    assert_unauthenticated(response)


# --- the browser session --------------------------------------------------------------------


def csrf_token_of(client: APIClient) -> str:
    """The CSRF token the browser gets: the cookie the login page sets."""
    client.get("/accounts/login/")
    return client.cookies["csrftoken"].value


def test_a_logged_in_session_reads(make_user, tenant):
    # given a member who logged in with email and password
    make_user("agent@ecomlg.test", tenant=tenant, password="correct horse battery")
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(email="agent@ecomlg.test", password="correct horse battery")

    # when the browser reads its tenant
    response = read_tenant(client)

    # then it is accepted
    assert response.status_code == 200
    assert response.json()["user"] == "agent@ecomlg.test"


def test_a_session_post_without_a_csrf_token_is_403_forbidden(member):
    # given a logged-in browser that sends no CSRF token
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)

    # when it posts
    response = client.post(PROBE, {"tenantId": "ecomlg-001"}, format="json")

    # then CSRF protection refuses it as JSON
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["status"] == "forbidden"


def test_a_session_post_with_a_wrong_csrf_token_is_403_forbidden(member):
    # given a logged-in browser with the CSRF cookie but a forged header
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    csrf_token_of(client)

    # when it posts
    response = client.post(
        PROBE, {"tenantId": "ecomlg-001"}, format="json", HTTP_X_CSRFTOKEN="x" * 32
    )

    # then CSRF protection refuses it
    assert response.status_code == 403
    assert response.json()["status"] == "forbidden"


def test_a_session_post_with_a_valid_csrf_token_is_accepted(member):
    # given a logged-in browser holding its CSRF token
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    csrf_token = csrf_token_of(client)

    # when it posts with that token
    response = client.post(
        PROBE, {"tenantId": "ecomlg-001"}, format="json", HTTP_X_CSRFTOKEN=csrf_token
    )

    # then it is accepted
    assert response.status_code == 200
    assert response.json()["user"] == member.email


def test_a_session_of_a_deactivated_user_is_401(member):
    # given a logged-in browser whose user was then deactivated
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    member.is_active = False
    member.save(update_fields=["is_active"])

    # when it reads its tenant
    response = read_tenant(client)

    # then the session no longer authenticates
    assert_unauthenticated(response)
