"""Autopilot jobs (CONTRACT §9): AI work accepted at once and run by background workers.

This table is the jobs' source of truth: the task backend only carries "run the next job"
wake-ups, so it can lose or replay a task without losing or repeating a job. Every change of
`status` is made by ai.autopilot.transitions, one function per transition.
"""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DEFERRED = "deferred", _("deferred")
    PAUSED = "paused", _("paused")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")
    EXPIRED = "expired", _("expired")


class AutopilotJob(models.Model):
    Status = JobStatus
    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.EXPIRED)
    UNFINISHED = (Status.QUEUED, Status.RUNNING, Status.DEFERRED, Status.PAUSED)
    CANCELLABLE = (Status.QUEUED, Status.DEFERRED, Status.PAUSED)

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="autopilot_jobs",
        verbose_name=_("tenant"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    request = models.JSONField(
        _("request"), help_text=_("The validated body: conversation, quality, context.")
    )
    request_id = models.CharField(
        _("request ID"), max_length=64, help_text=_("Of the POST that created it; on its rows.")
    )
    created_by = models.CharField(
        _("created by"), max_length=64, help_text=_("The id of the user who created it.")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    request_hash = models.CharField(
        _("request hash"), max_length=64, help_text=_("SHA-256 of the validated body.")
    )
    callback_url = models.URLField(_("callback URL"), max_length=500, blank=True)
    attempts = models.PositiveIntegerField(
        _("attempts"), default=0, help_text=_("Runs that reached the model (or died trying).")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    next_run_at = models.DateTimeField(
        _("next run at"), default=timezone.now, help_text=_("Not run before then.")
    )
    deadline = models.DateTimeField(_("deadline"), help_text=_("Expires if not run by then."))
    lease_token = models.UUIDField(_("lease token"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        _("lease expires at"),
        null=True,
        blank=True,
        help_text=_("A running job whose lease ended lost its worker: it runs again."),
    )
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.JSONField(_("error"), null=True, blank=True)

    class Meta:
        db_table = "ai_autopilot_job"
        ordering = ["-created_at", "-id"]
        verbose_name = _("Autopilot job")
        verbose_name_plural = _("Autopilot jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="autopilot_job_idempotency_key",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values),
                name="autopilot_job_status_known",
            ),
        ]
        indexes = [
            # A tenant's next claimable job (the fair claim's probe per tenant).
            models.Index(
                fields=["tenant", "next_run_at", "created_at"],
                condition=models.Q(status__in=["queued", "deferred", "paused", "running"]),
                name="autopilot_job_due",
            ),
            models.Index(fields=["tenant", "status"], name="autopilot_job_tenant_status"),
            models.Index(fields=["tenant", "-created_at", "-id"], name="autopilot_job_list"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.tenant_id}, {self.status})"
