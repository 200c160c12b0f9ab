"""The tenant usage page /usage/: the API's numbers, server-rendered, for the right tenant only."""

import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import override
from freezegun import freeze_time

from ai.autopilot.selectors import jobs_today_by_status
from ai.models import AutopilotJob
from reports.charts import bar_chart, nice_ceiling
from tenants.services import membership_get_or_create
from usage.recording import UsageEntry, usage_record, usage_record_many
from usage.top_ups import budget_top_up

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-agent-password-1"
VOID_TAGS = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Page(HTMLParser):
    """The rendered page as a flat list of elements: tag, attributes, text, hidden or not."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        hidden = "hidden" in attributes or any(parent["hidden"] for parent in self._open)
        element = {"tag": tag, "attrs": attributes, "text": "", "hidden": hidden}
        self.elements.append(element)
        if tag not in VOID_TAGS:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self._open.pop()

    def handle_endtag(self, tag):
        while self._open and self._open.pop()["tag"] != tag:
            pass

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, **attrs) -> list[dict]:
        """Elements with these attributes (data_field="calls" is data-field; True: present)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            element
            for element in self.elements
            if (tag is None or element["tag"] == tag)
            and all(
                name in element["attrs"] if value is True else element["attrs"].get(name) == value
                for name, value in wanted.items()
            )
        ]

    def one(self, tag: str | None = None, **attrs) -> dict:
        (element,) = self.find(tag, **attrs)
        return element

    def value(self, field: str) -> Decimal:
        return Decimal(self.one(data_field=field)["attrs"]["data-value"])

    def text(self, field: str) -> str:
        return " ".join(self.one(data_field=field)["text"].split())

    def visible(self, **attrs) -> list[dict]:
        return [element for element in self.find(**attrs) if not element["hidden"]]

    def table_rows(self, table_id: str) -> list[list[str]]:
        rows, inside = [], False
        for element in self.elements:
            if element["tag"] == "table":
                inside = element["attrs"].get("id") == table_id
            elif inside and element["tag"] == "tr":
                rows.append([])
            elif inside and element["tag"] in ("th", "td") and rows:
                rows[-1].append(" ".join(element["text"].split()))
        return rows[1:]  # without the header row

    def bars(self) -> list[dict]:
        return [e for e in self.find("rect") if "bar" in e["attrs"].get("class", "").split()]


@pytest.fixture
def reader(client, member):
    client.force_login(member)
    return client


def page_of(client, **params) -> Page:
    response = client.get("/usage/", params)
    assert response.status_code == 200, response.content[:500]
    return Page(response.content.decode())


def record(tenant, *, cost="0.002589", days_ago=0, **fields) -> None:
    usage_record(entry=_entry(tenant, cost=cost, days_ago=days_ago, **fields))


def _entry(tenant, *, cost="0", days_ago=0, **fields) -> UsageEntry:
    values = dict(feature="assist", provider="litellm", model="kbz-standard", status="success",
                  prompt_tokens=198, completion_tokens=133)  # fmt: skip
    return UsageEntry(
        tenant=tenant,
        cost_usd=Decimal(cost),
        created_at=timezone.now() - timedelta(days=days_ago),
        **{**values, **fields},
    )


def a_week_of_usage(tenant) -> None:
    record(tenant)
    record(tenant, cost="0.010000", feature="autopilot", prompt_tokens=900, completion_tokens=100)
    record(tenant, cost="0", status="blocked", error_code="rate_limited", prompt_tokens=0,
           completion_tokens=0)  # fmt: skip
    record(tenant, cost="0.000410", status="error", error_code="upstream_timeout", days_ago=1)
    record(tenant, cost="0.123456", model="kbz-premium", days_ago=3)
    record(tenant, cost="0.5", days_ago=6)
    record(tenant, cost="0.7", days_ago=8)  # outside the 7 days, inside the 30


# Access


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/usage/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/usage/")


def test_without_tenant_id_a_member_sees_its_first_tenant_by_id(client, make_tenant, make_user):
    # given a user of two tenants, the later id joined first
    user = make_user("two@shops.test", tenant=make_tenant("zz-shop"))
    membership_get_or_create(user=user, tenant=make_tenant("aa-shop"))
    client.force_login(user)
    # when it opens /usage/ without a tenantId
    page = page_of(client)
    # then the card is aa-shop's
    assert page.one(id="usage-card")["attrs"]["data-tenant-id"] == "aa-shop"


def test_another_tenants_page_is_a_403_html_page(reader, make_tenant):
    make_tenant("other-shop")
    response = reader.get("/usage/", {"tenantId": "other-shop"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert Page(response.content.decode()).find(id="usage-card") == []


def test_an_unknown_tenant_is_a_404_html_page(reader):
    response = reader.get("/usage/", {"tenantId": "no-such-shop"})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_inactive_tenant_is_a_403_page_for_its_members(reader, tenant):
    tenant.is_active = False
    tenant.save(update_fields=["is_active"])
    assert reader.get("/usage/", {"tenantId": tenant.id}).status_code == 403


def test_a_user_without_tenant_gets_a_403_page(client, make_user):
    client.force_login(make_user("lonely@nowhere.test"))
    response = client.get("/usage/")
    assert (response.status_code, response["Content-Type"][:9]) == (403, "text/html")


def test_staff_without_memberships_is_sent_to_the_staff_console(client, staff):
    client.force_login(staff)
    response = client.get("/usage/")
    assert (response.status_code, response["Location"]) == (302, "/staff/")


def test_staff_read_any_tenant_with_its_id(client, staff, tenant):
    client.force_login(staff)
    page = page_of(client, tenantId=tenant.id)
    assert page.one(id="usage-card")["attrs"]["data-tenant-id"] == tenant.id


STAFF_NOTICE = "You are reading this tenant's usage as KeyBuzz staff."


def notices(page: Page) -> list[str]:
    notes = [e for e in page.find("p") if e["attrs"].get("class") == "notice"]
    return [" ".join(element["text"].split()) for element in notes]


def test_staff_reading_a_tenant_are_told_so(client, staff, tenant):
    client.force_login(staff)
    assert notices(page_of(client, tenantId=tenant.id)) == [STAFF_NOTICE]


def test_a_member_is_not_told_it_reads_as_staff(reader, tenant):
    assert notices(page_of(reader, tenantId=tenant.id)) == []


def test_a_staff_member_who_is_also_a_member_reads_as_a_member(client, staff, tenant):
    membership_get_or_create(user=staff, tenant=tenant, role="owner")
    client.force_login(staff)
    assert notices(page_of(client, tenantId=tenant.id)) == []


def test_the_switcher_lists_only_the_users_tenants(client, make_tenant, make_user):
    # given a user of two tenants, and a third tenant it does not belong to
    user = make_user("two@shops.test", tenant=make_tenant("shop-a"))
    membership_get_or_create(user=user, tenant=make_tenant("shop-b"))
    make_tenant("shop-c")
    client.force_login(user)
    # when it opens its usage page
    page = page_of(client, tenantId="shop-b")
    # then the switcher offers its two tenants, the one shown selected
    options = page.find("option", value=True)
    tenants = [o["attrs"]["value"] for o in options if o["attrs"]["value"].startswith("shop-")]
    assert tenants == ["shop-a", "shop-b"]
    assert page.one("option", value="shop-b", selected=True)


def test_a_member_of_one_tenant_sees_no_switcher(reader):
    assert page_of(reader).find("select", name="tenantId") == []


# The card


def test_the_card_shows_the_apis_numbers_for_today(reader, tenant):
    # given a day with successes, a blocked and an error call, some of yesterday's spend, and a
    # top-up
    a_week_of_usage(tenant)
    budget_top_up(tenant=tenant, amount=Decimal("5"), reason="launch day", actor="support")
    # when the member opens its page and asks the API
    page = page_of(reader)
    today = reader.get("/admin/ai/usage/today", {"tenantId": tenant.id}).json()
    status = reader.get("/ai/assist/status", {"tenantId": tenant.id}).json()
    # then every number on the card is the API's
    assert (page.value("calls"), page.value("tokens")) == (today["calls"], today["tokens"])
    assert page.value("cost") == Decimal(str(today["costUsd"]))
    for field, key in [("daily", "daily"), ("used", "used"), ("remaining", "remaining"),
                       ("percent", "percentUsed")]:  # fmt: skip
        assert page.value(field) == Decimal(str(today["budget"][key])), field
    assert page.value("daily") == Decimal(str(status["budget"]["dailyBudget"])) == Decimal(15)
    assert page.value("top-up") == Decimal(5)
    meter = page.one(role="progressbar")
    assert Decimal(meter["attrs"]["aria-valuenow"]) == Decimal(str(today["budget"]["percentUsed"]))


def test_the_card_shows_plan_model_and_availability(reader, tenant):
    page = page_of(reader)
    card = " ".join(page.one(id="usage-card")["text"].split())
    assert "Pro" in card and "kbz-standard" in card
    assert [e["attrs"]["data-when"] for e in page.visible(data_when=True)] == ["available"]
    assert page.visible(data_reason=True) == []


def test_the_card_formats_money_and_counts_for_the_reader(reader, tenant):
    record(tenant, cost="0.5", prompt_tokens=1200, completion_tokens=34)
    page = page_of(reader)
    assert (page.text("tokens"), page.text("cost"), page.text("remaining")) == (
        "1,234", "$0.50", "$9.50",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("switch", "reason"),
    [(["--tenant", "ecomlg-001"], "tenant_kill_switch"), ([], "global_kill_switch")],
)
def test_a_kill_switch_shows_unavailable_with_its_reason(reader, tenant, switch, reason):
    call_command("kill_switch", "on", *switch, "--reason", "x", stdout=None)
    page = page_of(reader)
    assert [e["attrs"]["data-when"] for e in page.visible(data_when=True)] == ["unavailable"]
    assert [e["attrs"]["data-reason"] for e in page.visible(data_reason=True)] == [reason]


def test_a_spent_budget_shows_unavailable_and_a_red_bar(reader, tenant):
    # given a day spent to within less than a minimal call of its budget
    record(tenant, cost="9.9999")
    # when the page is read
    page = page_of(reader)
    # then it says why, and the bar is at its "reached" level though under 100 %
    assert [e["attrs"]["data-reason"] for e in page.visible(data_reason=True)] == [
        "budget_exceeded"
    ]
    assert page.one(role="progressbar")["attrs"]["data-level"] == "reached"
    assert [e["attrs"]["data-level-note"] for e in page.visible(data_level_note=True)] == [
        "reached"
    ]


@pytest.mark.parametrize(("spent", "level"), [("7.99", "ok"), ("8", "warning"), ("9.5", "warning")])
def test_the_bar_turns_amber_from_80_percent(reader, tenant, spent, level):
    record(tenant, cost=spent)
    assert page_of(reader).one(role="progressbar")["attrs"]["data-level"] == level


@freeze_time("2026-01-14 17:48:00")  # 18:48 in Paris
def test_the_reset_is_the_next_local_midnight(reader, tenant):
    page = page_of(reader)
    assert page.text("reset-in") == "in 5 h 12 min"
    reset = page.one(data_field="reset-in")["attrs"]["data-reset-at"]
    assert reset == "2026-01-14T23:00:00+00:00"  # midnight in Paris


@freeze_time("2026-03-28 23:30:00")  # 00:30 on the 29th in Paris, the night clocks go forward
def test_the_reset_countdown_counts_real_time_across_a_dst_change(reader, tenant):
    assert page_of(reader).text("reset-in") == "in 22 h 30 min"


def test_the_card_carries_what_the_live_script_polls(reader, tenant):
    page = page_of(reader)
    card = page.one(id="usage-card")["attrs"]
    assert (card["data-today-url"], card["data-status-url"]) == (
        "/admin/ai/usage/today", "/ai/assist/status",
    )  # fmt: skip
    assert page.one("script")["attrs"]["src"].endswith("usage/usage.js")
    assert page.one(aria_live="polite")
    assert finders.find("usage/usage.js") and finders.find("usage/usage.css")


# History


@pytest.mark.parametrize("days", [7, 30])
def test_the_history_has_one_bar_and_one_row_per_day(reader, tenant, days):
    a_week_of_usage(tenant)
    page = page_of(reader, days=days)
    history = reader.get("/admin/ai/usage", {"tenantId": tenant.id, "days": days}).json()
    bars = page.bars()
    assert len(bars) == len(page.table_rows("days-table")) == days
    assert [bar["attrs"]["data-date"] for bar in bars] == [d["date"] for d in history["byDay"]]
    assert [Decimal(bar["attrs"]["data-value"]) for bar in bars] == [
        Decimal(str(d["costUsd"])) for d in history["byDay"]
    ]


@pytest.mark.parametrize("days", [7, 30])
def test_the_history_totals_are_the_apis(reader, tenant, days):
    a_week_of_usage(tenant)
    page = page_of(reader, days=days)
    summary = page.one(data_summary=True)["attrs"]
    api = reader.get("/admin/ai/usage", {"tenantId": tenant.id, "days": days}).json()["summary"]
    assert {
        "totalCalls": int(summary["data-total-calls"]),
        "successCalls": int(summary["data-success-calls"]),
        "blockedCalls": int(summary["data-blocked-calls"]),
        "errorCalls": int(summary["data-error-calls"]),
        "totalTokens": int(summary["data-total-tokens"]),
        "totalCostUsd": Decimal(summary["data-total-cost"]),
        "savedUsd": Decimal(page.one(data_field="saved")["attrs"]["data-value"]),
    } == {
        **api,
        "totalCostUsd": Decimal(str(api["totalCostUsd"])),
        "savedUsd": Decimal(str(api["savedUsd"])),
    }


def test_the_breakdowns_list_features_and_models_with_rows(reader, tenant):
    a_week_of_usage(tenant)
    page = page_of(reader)
    assert [row[0] for row in page.table_rows("by-model")] == ["kbz-premium", "kbz-standard"]
    assert len(page.table_rows("by-feature")) == 2
    # kbz-premium: one success, 331 tokens, $0.123456
    assert page.table_rows("by-model")[0][1:] == ["1", "0", "0", "331", "$0.123456"]


def test_the_toggle_links_keep_the_tenant(reader, tenant):
    links = page_of(reader, days=30).find("a", href=True)
    toggles = [a for a in links if "days=" in a["attrs"]["href"]]
    assert [a["attrs"]["href"] for a in toggles] == [
        "?tenantId=ecomlg-001&days=7", "?tenantId=ecomlg-001&days=30",
    ]  # fmt: skip
    assert [a["attrs"].get("aria-current") for a in toggles] == [None, "page"]


def test_an_out_of_range_days_falls_back_to_a_week(reader, tenant):
    assert len(page_of(reader, days="1000").bars()) == 7


def test_the_chart_is_an_accessible_svg(reader, tenant):
    page = page_of(reader)
    svg = page.one("svg")
    assert svg["attrs"]["role"] == "img"
    titles = svg["attrs"]["aria-labelledby"].split()
    assert page.one("title", id=titles[0])["text"].startswith("Cost per day")


# Language


def test_french_is_picked_from_accept_language(reader, tenant):
    # given a day with a cost that has decimals
    record(tenant, cost="0.002589")
    # when the page is asked for in French
    response = reader.get("/usage/", HTTP_ACCEPT_LANGUAGE="fr")
    page = Page(response.content.decode())
    # then the document is French, with French number and date formats
    assert page.one("html")["attrs"]["lang"] == "fr"
    assert "0,002589" in page.text("cost")
    with override("fr"):
        french_date = date_format(tenant.local_day(), "DATE_FORMAT")
    assert french_date in page.one(id="card-title")["text"]


def test_the_page_and_the_login_page_have_a_language_switcher(reader, client):
    for page in (page_of(reader), Page(client.get("/accounts/login/").content.decode())):
        form = page.one("form", action="/i18n/setlang/")
        assert form["attrs"]["method"] == "post"
        assert page.find("input", name="csrfmiddlewaretoken")
        assert [o["attrs"]["value"] for o in page.find("option", lang=True)] == ["en", "fr"]


def test_the_language_switcher_switches_to_french(reader, tenant):
    response = reader.post("/i18n/setlang/", {"language": "fr", "next": "/usage/?days=30"})
    assert (response.status_code, response["Location"]) == (302, "/usage/?days=30")
    assert Page(reader.get("/usage/").content.decode()).one("html")["attrs"]["lang"] == "fr"


# Sign-in and password reset


def test_the_login_page_has_labelled_fields_and_a_reset_link(client):
    page = Page(client.get("/accounts/login/").content.decode())
    assert page.one("label", **{"for": "id_username"}) and page.one("input", type="email")
    assert page.one("label", **{"for": "id_password"}) and page.one("input", type="password")
    assert page.one("a", href="/accounts/password_reset/")["text"] == "Forgot your password?"


def test_a_password_reset_emails_a_link_that_sets_a_new_password(client, make_user):
    # given a member with a password
    make_user("agent@shop.test", password="an-old-password-1")
    # when it asks for a reset
    response = client.post("/accounts/password_reset/", {"email": "AGENT@shop.test"})
    assert (response.status_code, response["Location"]) == (302, "/accounts/password_reset/done/")
    # then one email goes out with a link
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["agent@shop.test"]
    link = re.search(r"https?://\S+", mail.outbox[0].body).group()
    # and the link leads to a form that sets the new password
    form_url = client.get(urlsplit(link).path)["Location"]
    assert b"new_password1" in client.get(form_url).content
    response = client.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/accounts/reset/done/")
    assert client.login(username="agent@shop.test", password=PASSWORD)


def test_an_unknown_email_asking_for_a_reset_sends_nothing(client, db):
    response = client.post("/accounts/password_reset/", {"email": "nobody@shop.test"})
    assert response.status_code == 302 and mail.outbox == []


def test_the_reset_pages_render(client):
    for path in ("/accounts/password_reset/", "/accounts/password_reset/done/",
                 "/accounts/reset/done/", "/accounts/reset/MQ/bad-token/"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path
        assert b'<html lang="en">' in response.content, path


# Autopilot jobs today


def autopilot_job(tenant, status: str, *, created_at=None) -> AutopilotJob:
    created_at = created_at or timezone.now()
    return AutopilotJob.objects.create(
        tenant=tenant, status=status,
        request={"payload": {"messages": [{"role": "customer", "content": "x"}]},
                 "quality": "balanced", "contextType": "", "contextId": ""},
        request_id="r", created_by="1", request_hash="h", created_at=created_at,
        next_run_at=created_at, deadline=created_at + timedelta(days=1),
    )  # fmt: skip


def autopilot_counts(page: Page) -> dict[str, int]:
    return {
        element["attrs"]["data-autopilot-status"]: int(element["attrs"]["data-value"])
        for element in page.find("dd", data_autopilot_status=True)
    }


@freeze_time("2026-03-10 11:00:00")  # noon in Paris, the tenant's 10 March
def test_the_page_shows_todays_autopilot_jobs_by_state(client, make_tenant, make_user):
    # given an Autopilot tenant's jobs of today in several states, and one of 23:00 yesterday
    # (its local time)
    pilot = make_tenant("pilot-001", plan="autopilot", timezone="Europe/Paris")
    client.force_login(make_user("agent@pilot.test", tenant=pilot))
    for status in ("queued", "queued", "running", "deferred", "succeeded", "succeeded", "failed"):
        autopilot_job(pilot, status)
    autopilot_job(pilot, "succeeded", created_at=timezone.now() - timedelta(hours=13))
    # when a member opens the usage page
    page = page_of(client)
    # then it shows today's jobs by state: the counts of jobs_today_by_status
    assert "Autopilot jobs today" in page.one(id="autopilot-title")["text"]
    assert autopilot_counts(page) == {
        "queued": 2, "running": 1, "deferred": 1, "paused": 0, "succeeded": 2, "failed": 1,
        "cancelled": 0, "expired": 0,
    }  # fmt: skip
    assert jobs_today_by_status(tenant=pilot) == autopilot_counts(page)
    assert " ".join(page.one(data_autopilot_status="succeeded")["text"].split()) == "2"


def test_an_autopilot_plan_shows_the_section_with_no_job_yet(client, make_tenant, make_user):
    pilot = make_tenant("pilot-001", plan="autopilot")
    client.force_login(make_user("agent@pilot.test", tenant=pilot))
    assert set(autopilot_counts(page_of(client)).values()) == {0}


def test_a_plan_without_autopilot_shows_no_section(reader, tenant):
    assert not tenant.plan.autopilot_enabled
    page = page_of(reader)
    assert page.find(id="autopilot-card") == []


def test_a_plan_without_autopilot_shows_the_jobs_it_has_today(reader, tenant):
    # given a tenant whose plan lost Autopilot after its jobs of today were queued
    autopilot_job(tenant, "cancelled")
    # then its page still shows them
    assert autopilot_counts(page_of(reader))["cancelled"] == 1


@freeze_time("2026-03-10 11:00:00")
def test_todays_autopilot_jobs_are_in_french(client, make_tenant, make_user):
    pilot = make_tenant("pilot-001", plan="autopilot", timezone="Europe/Paris")
    client.force_login(make_user("agent@pilot.test", tenant=pilot))
    autopilot_job(pilot, "deferred")
    page = Page(client.get("/usage/", HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    assert page.one(id="autopilot-title")["text"] == "Tâches du pilote automatique aujourd\u2019hui"
    labels = [" ".join(e["text"].split()) for e in page.find("dt") if e["text"].strip()]
    assert "Reportée" in labels and "En file d\u2019attente" in labels


# Cost


def _queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        page_of(client, **params)
    return len(queries)


def test_the_page_runs_the_same_few_queries_for_7_or_30_days(reader, tenant):
    a_week_of_usage(tenant)
    week, month = _queries(reader, days=7), _queries(reader, days=30)
    assert week == month <= 12  # 12th: today's Autopilot jobs by state, one grouped count


def test_the_page_runs_the_same_queries_for_10_or_1000_rows(reader, tenant):
    # given 10 rows spread over the month
    features, statuses = ("assist", "autopilot", "journal"), ("success", "blocked", "error")
    rows = [
        _entry(tenant, cost="0.000100", days_ago=n % 30, feature=features[n % 3],
               status=statuses[n % 3], model=("kbz-cheap", "kbz-standard")[n % 2])
        for n in range(1000)
    ]  # fmt: skip
    usage_record_many(entries=rows[:10])
    few = _queries(reader, days=30)
    # when 990 more are recorded
    usage_record_many(entries=rows[10:])
    # then the page costs the same
    assert _queries(reader, days=30) == few


# The chart's geometry (usage/charts.py)


@pytest.mark.parametrize(
    ("highest", "top"),
    [("0", "1"), ("0.002589", "0.005"), ("0.2", "0.2"), ("0.21", "0.25"), ("7.5", "10")],
)
def test_the_scale_tops_at_a_round_number_above_the_highest_day(highest, top):
    assert nice_ceiling(Decimal(highest)) == Decimal(top)


def test_bars_are_proportional_and_the_highest_reaches_the_top_gridline():
    # given three days, one of them empty
    chart = bar_chart([Decimal("0.5"), Decimal(0), Decimal("0.25")])
    # then the bars stand on the baseline, in proportion, the first up to the top gridline
    tall, empty, half = chart.bars
    assert all(bar.y + bar.height == chart.baseline for bar in chart.bars)
    assert (empty.height, half.height * 2) == (0, tall.height)
    assert tall.y == chart.gridlines[-1].y and chart.gridlines[-1].value == Decimal("0.5")
    assert [bar.x for bar in chart.bars] == sorted(bar.x for bar in chart.bars)
