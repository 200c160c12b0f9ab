"""The console's Autopilot queue page (/staff/ai/autopilotjob/queue/) and its two audited
actions, and the read-only job pages (CONTRACT §9)."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from freezegun import freeze_time

from ai.models import AutopilotJob

pytestmark = pytest.mark.django_db

NOON = "2026-03-10 12:00:00"
QUEUE = "/staff/ai/autopilotjob/queue/"
APOS = "\u2019"  # the typographic apostrophe of the French catalogue
JOBS = "/staff/ai/autopilotjob/"


def _retry_url(tenant) -> str:
    return f"{QUEUE}{tenant.pk}/retry-failed/"


def _cancel_url(tenant) -> str:
    return f"{QUEUE}{tenant.pk}/cancel-waiting/"


def _row(page: str, tenant_id: str) -> dict[str, str] | None:
    """The queue page's line of a tenant: {data-value: its cell's text}, or None."""
    found = re.search(rf'<tr data-tenant="{re.escape(tenant_id)}">(.*?)</tr>', page, re.S)
    if found is None:
        return None
    cells = re.findall(r'<td[^>]*data-value="([^"]+)"[^>]*>(.*?)</td>', found.group(1), re.S)
    return {name: _text(cell) for name, cell in cells}


def _text(fragment: str) -> str:
    """Tags dropped, entities decoded, blanks (no-break spaces too) made one space."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).replace("\xa0", " ").split())


def _statuses(tenant) -> dict[str, str]:
    jobs = AutopilotJob.objects.filter(tenant=tenant)
    return {job.request_id: job.status for job in jobs}


def _messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def _audit(tenant) -> list[str]:
    entries = LogEntry.objects.filter(object_id=tenant.pk).order_by("pk")
    return [entry.get_change_message() for entry in entries]


@pytest.fixture
def shops(make_tenant):
    return make_tenant("shop-a", name="Shop A"), make_tenant("shop-b", name="Shop B")


# The page


@freeze_time(NOON)
def test_the_queue_lists_each_tenants_counts_and_oldest_waiting_age(console, shops, make_job):
    # given shop A with jobs in every state, the oldest due for 2 h 5 min, and a deferred job
    # that waits for tomorrow; shop B with only a failed job; shop C with only finished jobs
    shop_a, shop_b = shops
    make_job(shop_a, "queued", waited=timedelta(hours=2, minutes=5))
    make_job(shop_a, "queued", waited=timedelta(minutes=1))
    make_job(shop_a, "deferred", next_run_at=shop_a.next_day_start())
    make_job(shop_a, "paused")
    make_job(shop_a, "running")
    make_job(shop_a, "failed")
    make_job(shop_a, "succeeded")
    make_job(shop_b, "failed")
    # when staff open the queue
    page = console.get(QUEUE).text
    # then each tenant with jobs to watch has its line, with its counts and its oldest wait
    assert _row(page, "shop-a") == {
        "queued": "2", "deferred": "1", "paused": "1", "running": "1", "failed": "1",
        "oldest-waiting": "2 hours, 5 minutes",
    }  # fmt: skip
    assert _row(page, "shop-b") == {
        "queued": "0", "deferred": "0", "paused": "0", "running": "0", "failed": "1",
        "oldest-waiting": "—",
    }  # fmt: skip
    # and each line offers the actions it has jobs for
    assert f'href="{_retry_url(shop_a)}"' in page and f'href="{_cancel_url(shop_a)}"' in page
    assert f'href="{_retry_url(shop_b)}"' in page and f'href="{_cancel_url(shop_b)}"' not in page


def test_the_queue_says_so_when_nothing_waits(console, shops, make_job):
    make_job(shops[0], "succeeded")
    page = console.get(QUEUE).text
    assert "No Autopilot job is waiting, running or failed." in page
    assert _row(page, "shop-a") is None


def test_the_jobs_list_links_to_the_queue(console):
    assert f'href="{QUEUE}"' in console.get(JOBS).text


# Retry failed jobs


def test_retry_failed_asks_for_confirmation_first(console, shops, make_job):
    make_job(shops[0], "failed", attempts=5, error={"code": "upstream_error", "message": "x"})
    page = console.get(_retry_url(shops[0])).text
    assert "Queue the 1 failed Autopilot job of Shop A again?" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert AutopilotJob.objects.get().status == "failed"  # a GET changes nothing


def test_retry_failed_requeues_the_tenants_failed_jobs_and_is_audited(console, shops, make_job):
    # given two failed jobs of shop A, a finished one, and a failed one of shop B
    shop_a, shop_b = shops
    error = {"code": "upstream_error", "message": "LiteLLM answered 500."}
    make_job(shop_a, "failed", request_id="a1", attempts=5, error=error)
    make_job(shop_a, "failed", request_id="a2", attempts=5, error=error)
    make_job(shop_a, "succeeded", request_id="a3")
    make_job(shop_b, "failed", request_id="b1", attempts=5, error=error)
    # when staff confirm "Retry failed jobs" for shop A
    response = console.post(_retry_url(shop_a))
    # then its failed jobs are queued again, from zero attempts and without their error
    assert (response.status_code, response["Location"]) == (302, QUEUE)
    assert _statuses(shop_a) == {"a1": "queued", "a2": "queued", "a3": "succeeded"}
    retried = AutopilotJob.objects.filter(request_id__in=["a1", "a2"])
    assert {(job.attempts, job.error, job.finished_at) for job in retried} == {(0, None, None)}
    # and shop B's job is untouched
    assert _statuses(shop_b) == {"b1": "failed"}
    # and the change is audited on the tenant, and said
    assert _audit(shop_a) == ["Retried 2 failed Autopilot jobs: queued again, attempts from zero."]
    assert LogEntry.objects.get(object_id=shop_a.pk).user.email == "root@keybuzz.test"
    assert ("success", "Queued 2 failed Autopilot jobs of Shop A (shop-a) again.") in _messages(
        response
    )


def test_retry_without_failed_jobs_changes_nothing_and_audits_nothing(console, shops, make_job):
    make_job(shops[0], "queued")
    response = console.post(_retry_url(shops[0]))
    assert response.status_code == 302
    assert ("warning", "Shop A (shop-a) has no failed Autopilot job to retry.") in _messages(
        response
    )
    assert _audit(shops[0]) == []


# Cancel waiting jobs


def test_cancel_cancels_waiting_jobs_but_not_running_or_finished_ones(console, shops, make_job):
    # given shop A's jobs in every state, and a queued job of shop B
    shop_a, shop_b = shops
    for status in AutopilotJob.Status.values:
        make_job(shop_a, status, request_id=status)
    make_job(shop_b, "queued", request_id="b")
    # when staff confirm "Cancel waiting jobs" for shop A
    response = console.post(_cancel_url(shop_a))
    # then its queued, deferred and paused jobs are cancelled, with their error saying so
    assert (response.status_code, response["Location"]) == (302, QUEUE)
    assert _statuses(shop_a) == {
        "queued": "cancelled", "deferred": "cancelled", "paused": "cancelled",
        "running": "running", "succeeded": "succeeded", "failed": "failed",
        "cancelled": "cancelled", "expired": "expired",
    }  # fmt: skip
    cancelled = AutopilotJob.objects.get(tenant=shop_a, request_id="paused")
    assert cancelled.error["code"] == "cancelled" and cancelled.finished_at is not None
    # and shop B's job still waits
    assert _statuses(shop_b) == {"b": "queued"}
    # and the change is audited on the tenant, and said
    assert _audit(shop_a) == ["Cancelled 3 waiting Autopilot jobs (queued, deferred or paused)."]
    assert ("success", "Cancelled 3 waiting Autopilot jobs of Shop A (shop-a).") in _messages(
        response
    )


def test_cancel_asks_for_confirmation_first(console, shops, make_job):
    make_job(shops[0], "queued", request_id="q")
    make_job(shops[0], "paused", request_id="p")
    page = console.get(_cancel_url(shops[0])).text
    assert "Cancel the 2 waiting Autopilot jobs (queued, deferred or paused) of Shop A?" in page
    assert _statuses(shops[0]) == {"q": "queued", "p": "paused"}


# Who may


def test_non_staff_are_sent_to_the_login_page_and_change_nothing(client, make_user, shops,
                                                                 make_job):  # fmt: skip
    make_job(shops[0], "failed", request_id="f")
    make_job(shops[0], "queued", request_id="q")
    client.force_login(make_user("agent@shop.test", tenant=shops[0], role="owner"))
    assert client.get(QUEUE).status_code == 302
    for url in (_retry_url(shops[0]), _cancel_url(shops[0])):
        response = client.post(url)
        assert response.status_code == 302 and "/staff/login/" in response["Location"]
    assert _statuses(shops[0]) == {"f": "failed", "q": "queued"}


def test_billing_admins_see_the_queue_but_cannot_act(client, in_group, shops, make_job):
    make_job(shops[0], "failed", request_id="f")
    make_job(shops[0], "queued", request_id="q")
    client.force_login(in_group("Billing admin"))
    page = client.get(QUEUE)
    assert page.status_code == 200 and _row(page.text, "shop-a")["failed"] == "1"
    assert _retry_url(shops[0]) not in page.text
    for url in (_retry_url(shops[0]), _cancel_url(shops[0])):
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert _statuses(shops[0]) == {"f": "failed", "q": "queued"}
    assert _audit(shops[0]) == []


def test_support_retries_and_cancels(client, in_group, shops, make_job):
    make_job(shops[0], "failed", request_id="f")
    make_job(shops[0], "queued", request_id="q")
    client.force_login(in_group("Support"))
    assert client.post(_retry_url(shops[0])).status_code == 302
    assert client.post(_cancel_url(shops[0])).status_code == 302
    # (the retried job was queued again, so the cancel took it too)
    assert _statuses(shops[0]) == {"f": "cancelled", "q": "cancelled"}


def test_an_unknown_tenant_or_action_is_a_404(console, shops):
    assert console.get(f"{QUEUE}nobody/retry-failed/").status_code == 404
    assert console.post(f"{QUEUE}shop-a/delete-everything/").status_code == 404


# The job pages


def test_a_job_page_shows_its_request_error_and_result_read_only(console, shops, make_job):
    error = {"code": "upstream_timeout", "message": "LiteLLM did not answer in time."}
    job = make_job(shops[0], "failed", error=error, result=None)
    response = console.get(f"{JOBS}{job.pk}/change/")
    page = html.unescape(response.text)
    assert response.status_code == 200
    assert '"role": "customer"' in page and '"quality": "balanced"' in page
    assert '"code": "upstream_timeout"' in page
    assert 'name="_save"' not in page  # nobody edits a job by hand
    assert console.post(f"{JOBS}{job.pk}/change/", {"status": "queued"}).status_code == 403


def test_the_jobs_list_filters_by_status_and_tenant_and_finds_by_id(console, shops, make_job):
    shop_a, shop_b = shops
    failed = make_job(shop_a, "failed")
    queued = make_job(shop_b, "queued")
    by_status = console.get(JOBS, {"status__exact": "failed"}).text
    assert str(failed.pk) in by_status and str(queued.pk) not in by_status
    by_tenant = console.get(JOBS, {"tenant__id__exact": "shop-b"}).text
    assert str(queued.pk) in by_tenant and str(failed.pk) not in by_tenant
    by_id = console.get(JOBS, {"q": str(failed.pk)}).text
    assert str(failed.pk) in by_id and str(queued.pk) not in by_id
    by_tenant_name = console.get(JOBS, {"q": "Shop B"}).text
    assert str(queued.pk) in by_tenant_name and str(failed.pk) not in by_tenant_name


# In French


@freeze_time(NOON)
def test_the_queue_and_its_confirmation_are_in_french(console, shops, make_job):
    make_job(shops[0], "queued", waited=timedelta(hours=2, minutes=5))
    make_job(shops[0], "failed")
    page = _text(console.get(QUEUE, HTTP_ACCEPT_LANGUAGE="fr").text)
    assert "File du pilote automatique" in page
    states = f"En file d{APOS}attente Reportée En pause En cours En échec"
    assert f"Client {states} Plus longue attente Actions" in page
    assert "2 heures, 5 minutes Relancer les tâches en échec Annuler les tâches en attente" in page
    confirmation = _text(console.get(_cancel_url(shops[0]), HTTP_ACCEPT_LANGUAGE="fr").text)
    assert "Annuler 1 tâche du pilote automatique en attente" in confirmation
    assert "de Shop A ? Elle ne sera jamais exécutée" in confirmation
