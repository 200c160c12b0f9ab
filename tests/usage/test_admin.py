"""The AI usage page of the staff console: filters, search and the streamed CSV export."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from freezegun import freeze_time

from usage.recording import usage_record

from .entries import entry, noon

pytestmark = pytest.mark.django_db

CHANGELIST = "/staff/usage/aiusage/"
EXPORT = "/staff/usage/aiusage/export/"


@pytest.fixture
def staff_superuser(make_user):
    return make_user("root@keybuzz.test", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff_superuser):
    client.force_login(staff_superuser)
    return client


@pytest.fixture
def lyon(make_tenant):
    return make_tenant("shop-002", name="Boutique Lyon", timezone="Europe/Paris")


@pytest.fixture
def agent(make_user, tenant):
    return make_user("agent@ecomlg.test", tenant=tenant)


@pytest.fixture
def usage_rows(tenant, lyon, agent):
    """Four calls: two tenants, three statuses, two days, one of them by a known user."""
    for row_id, owner, status, day, fields in [
        ("row-1", tenant, "success", date(2025, 1, 5), {"user_id": str(agent.pk)}),
        ("row-2", tenant, "blocked", date(2025, 1, 5), {"error_code": "budget_exceeded"}),
        ("row-3", lyon, "blocked", date(2025, 2, 7), {"request_id": "req-lyon-1"}),
        ("row-4", lyon, "error", date(2025, 2, 7), {"error_code": "upstream_timeout"}),
    ]:
        if status != "success":
            fields |= {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": Decimal("0")}
        usage_record(entry=entry(owner, at=noon(day), id=row_id, status=status, **fields))


def changelist_ids(client, query: dict | None = None) -> list[str]:
    response = client.get(CHANGELIST, query or {})
    assert response.status_code == 200
    return sorted(row.id for row in response.context["cl"].result_list)


def export_rows(client, query: dict | None = None) -> list[list[str]]:
    response = client.get(EXPORT, query or {})
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_url_is_named_after_the_model(db):
    assert reverse("admin:usage_aiusage_export") == EXPORT


def test_the_changelist_shows_its_filters_and_an_export_button_keeping_the_filters(
    staff_client, usage_rows
):
    # when staff open the page filtered on blocked rows
    response = staff_client.get(CHANGELIST, {"status__exact": "blocked"})
    # then every filter is offered and the button exports with the same querystring
    page = response.content.decode()
    for title in ["status", "feature", "model", "provider", "tenant"]:
        assert f"By {title}" in page
    assert "Boutique Lyon (shop-002)" in page  # tenants listed from the tenants table
    assert f'href="{EXPORT}?status__exact=blocked">Export CSV</a>' in page
    assert sorted(row.id for row in response.context["cl"].result_list) == ["row-2", "row-3"]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("req-lyon-1", ["row-3"]),  # a request id
        ("shop-002", ["row-3", "row-4"]),  # a tenant id
        ("boutique", ["row-3", "row-4"]),  # part of a tenant's name, any case
        ("  Boutique Lyon ", ["row-3", "row-4"]),  # a name with a space, as one term
        ("AGENT@ecomlg.test", ["row-1"]),  # a user's email, any case
        ("nobody@ecomlg.test", []),
    ],
)
def test_the_search_finds_rows_by_request_tenant_or_user(staff_client, usage_rows, term, expected):
    assert changelist_ids(staff_client, {"q": term}) == expected


def test_the_search_finds_rows_by_user_id(staff_client, usage_rows, agent):
    assert changelist_ids(staff_client, {"q": str(agent.pk)}) == ["row-1"]


def test_the_filters_list_their_choices_without_a_distinct_over_ai_usage(staff_client, usage_rows):
    # given a day chosen in the date hierarchy, which then needs no DISTINCT of its own
    day = {"created_at__year": "2025", "created_at__month": "2", "created_at__day": "7"}
    # when staff open the page
    with CaptureQueriesContext(connection) as queries:
        assert changelist_ids(staff_client, day) == ["row-3", "row-4"]
    # then no query reads distinct values out of ai_usage
    assert not [q["sql"] for q in queries if "DISTINCT" in q["sql"] and "ai_usage" in q["sql"]]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status__exact": "blocked"},
        {"tenant__id__exact": "shop-002"},
        {"model": "kbz-standard", "feature__exact": "assist"},
        {"q": "boutique"},
        {"q": "boutique", "status__exact": "error"},
        {"created_at__year": "2025", "created_at__month": "1"},
    ],
    ids=lambda query: "&".join(f"{k}={v}" for k, v in query.items()) or "unfiltered",
)
def test_the_export_has_exactly_the_changelists_rows(staff_client, usage_rows, query):
    # when staff export a filtered page
    exported = export_rows(staff_client, query)
    # then they get its rows, all of them and only them
    assert sorted(row[0] for row in exported[1:]) == changelist_ids(staff_client, query)


def test_the_export_of_blocked_rows_has_only_blocked_rows(staff_client, usage_rows):
    exported = export_rows(staff_client, {"status__exact": "blocked"})
    assert [(row[0], row[10]) for row in exported[1:]] == [
        ("row-3", "blocked"),
        ("row-2", "blocked"),
    ]  # newest first, like the page


def test_the_export_is_a_dated_csv_attachment_streamed(staff_client, usage_rows):
    with freeze_time("2025-03-01 09:30:15"):
        response = staff_client.get(EXPORT)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="ai-usage-2025-03-01-093015.csv"'
    )


def test_the_export_writes_the_seed_columns_decimals_and_utc_times_exactly(
    staff_client, usage_rows, agent
):
    # when staff export the January rows
    january = {"created_at__year": "2025", "created_at__month": "1"}
    lines = b"".join(staff_client.get(EXPORT, january).streaming_content).decode()
    # then the header is the seed's, costs keep their six decimals and times are UTC (rows in
    # the page's order: newest first, then by id descending)
    assert lines.splitlines() == [
        "id,tenant_id,user_id,feature,provider,model,prompt_tokens,completion_tokens,"
        "total_tokens,cost_usd_est,status,error_code,request_id,created_at",
        "row-2,ecomlg-001,,assist,litellm,kbz-standard,0,0,0,0.000000,blocked,budget_exceeded,,"
        "2025-01-05T11:00:00+00:00",
        f"row-1,ecomlg-001,{agent.pk},assist,litellm,kbz-standard,198,133,331,0.002589,success,,,"
        "2025-01-05T11:00:00+00:00",
    ]


@pytest.mark.parametrize("formula", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx"])
def test_the_export_neutralises_text_cells_a_spreadsheet_would_run(staff_client, tenant, formula):
    # given a row whose request id and error code start like a formula
    usage_record(
        entry=entry(tenant, at=noon(date(2025, 1, 5)), request_id=formula, error_code=formula)
    )
    # when it is exported
    row = export_rows(staff_client)[1]
    # then those cells start with an apostrophe, and the numbers are left as they are
    assert (row[11], row[12]) == (f"'{formula}", f"'{formula}")
    assert row[6:10] == ["198", "133", "331", "0.002589"]


def test_staff_without_the_view_permission_cannot_export(client, staff, usage_rows):
    client.force_login(staff)
    assert client.get(EXPORT).status_code == 403


def test_staff_with_only_the_view_permission_can_export(client, staff, usage_rows):
    staff.user_permissions.add(Permission.objects.get(codename="view_aiusage"))
    client.force_login(staff)
    assert len(export_rows(client)) == 1 + 4


def test_an_export_with_a_bad_filter_goes_back_to_the_changelist(staff_client, usage_rows):
    response = staff_client.get(EXPORT, {"no_such_field": "x"})
    assert (response.status_code, response["Location"]) == (302, f"{CHANGELIST}?e=1")
