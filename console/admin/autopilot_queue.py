"""The Autopilot queue page (/staff/ai/autopilotjob/queue/): per tenant, its jobs queued,
deferred, paused, running and failed, and how long its oldest waiting job has waited, with two
staff actions per tenant, "Retry failed jobs" and "Cancel waiting jobs". Each action asks for
confirmation on a page of its own, needs the permission to change Autopilot jobs, and is
audited as a LogEntry on the tenant (its History, and Log entries)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ai.autopilot.transitions import jobs_retry_failed
from ai.models import AutopilotJob
from keybuzz.admin_audit import in_site_language
from tenants.models import Tenant

from ..autopilot import SHOWN, autopilot_waiting_cancel, queue_rows, tenant_jobs_count

QUEUE_TEMPLATE = "admin/ai/autopilotjob/queue.html"
CONFIRMATION_TEMPLATE = "admin/ai/autopilotjob/queue_confirmation.html"
RETRY_FAILED, CANCEL_WAITING = "retry-failed", "cancel-waiting"
Status = AutopilotJob.Status


@dataclass(frozen=True)
class QueueAction:
    title: str
    statuses: tuple[str, ...]  # the jobs it acts on, counted on its confirmation page
    run: Callable[[Tenant], int]  # how many jobs it changed


def _failed_retry(tenant: Tenant) -> int:
    return jobs_retry_failed(tenant_id=tenant.id)


def _waiting_cancel(tenant: Tenant) -> int:
    return autopilot_waiting_cancel(tenant=tenant)


ACTIONS = {
    RETRY_FAILED: QueueAction(_("Retry failed jobs"), (Status.FAILED,), _failed_retry),
    CANCEL_WAITING: QueueAction(
        _("Cancel waiting jobs"), AutopilotJob.CANCELLABLE, _waiting_cancel
    ),
}


def _audit_message(action: str, count: int) -> str:
    """The LogEntry's text, stored: the caller writes it in the site's language."""
    if action == RETRY_FAILED:
        text = ngettext(
            "Retried %(count)d failed Autopilot job: queued again, attempts from zero.",
            "Retried %(count)d failed Autopilot jobs: queued again, attempts from zero.",
            count,
        )
    else:
        text = ngettext(
            "Cancelled %(count)d waiting Autopilot job (queued, deferred or paused).",
            "Cancelled %(count)d waiting Autopilot jobs (queued, deferred or paused).",
            count,
        )
    return text % {"count": count}


def _done_message(action: str, count: int, tenant: Tenant) -> str:
    if action == RETRY_FAILED:
        text = ngettext(
            "Queued %(count)d failed Autopilot job of %(tenant)s again.",
            "Queued %(count)d failed Autopilot jobs of %(tenant)s again.",
            count,
        )
    else:
        text = ngettext(
            "Cancelled %(count)d waiting Autopilot job of %(tenant)s.",
            "Cancelled %(count)d waiting Autopilot jobs of %(tenant)s.",
            count,
        )
    return text % {"count": count, "tenant": tenant}


def _nothing_message(action: str, tenant: Tenant) -> str:
    if action == RETRY_FAILED:
        text = gettext("%(tenant)s has no failed Autopilot job to retry.")
    else:
        text = gettext("%(tenant)s has no waiting Autopilot job to cancel.")
    return text % {"tenant": tenant}


class AutopilotQueueViews:
    """A ModelAdmin mixin (of AutopilotJob's): the queue page and its actions' pages."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        queue = self.admin_site.admin_view(self.queue_view)
        action = self.admin_site.admin_view(self.queue_action_view)
        # Before the model's own URLs: their "<path:object_id>/" would swallow these.
        return [
            path("queue/", queue, name="{}_{}_queue".format(*info)),
            path(
                "queue/<str:tenant_id>/<slug:action>/",
                action,
                name="{}_{}_queue_action".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_queue_change_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def queue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Autopilot queue"),
            "subtitle": None,
            "opts": self.opts,
            "rows": queue_rows(),
            "shown": [(status, Status(status).label) for status in SHOWN],
            "can_change": self.has_queue_change_permission(request),
        }
        return TemplateResponse(request, QUEUE_TEMPLATE, context)

    def queue_action_view(self, request, tenant_id: str, action: str):
        queue_action = ACTIONS.get(action)
        if queue_action is None:
            raise Http404
        if not self.has_queue_change_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=tenant_id)
        if request.method == "POST":
            return self._queue_action_run(request, tenant, action)
        context = {
            **self.admin_site.each_context(request),
            "title": queue_action.title,
            "subtitle": str(tenant),
            "opts": self.opts,
            "tenant": tenant,
            "action": action,
            "count": tenant_jobs_count(tenant=tenant, statuses=queue_action.statuses),
            "queue_url": self._queue_url(),
        }
        return TemplateResponse(request, CONFIRMATION_TEMPLATE, context)

    def _queue_action_run(self, request, tenant: Tenant, action: str):
        with transaction.atomic():  # the change and its audit entry, or neither
            changed = ACTIONS[action].run(tenant)
            if changed:
                with in_site_language():
                    message = _audit_message(action, changed)
                self.log_change(request, tenant, message)
        if changed:
            self.message_user(request, _done_message(action, changed, tenant), messages.SUCCESS)
        else:
            self.message_user(request, _nothing_message(action, tenant), messages.WARNING)
        return HttpResponseRedirect(self._queue_url())

    def _queue_url(self) -> str:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_queue"
        return reverse(name, current_app=self.admin_site.name)
