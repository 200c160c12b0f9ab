"""Kill switches: the global one, each tenant's, and their audit trail."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AIGlobalSettings(models.Model):
    """The platform-wide kill switch: exactly one row, id 1, created by a migration."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(
        _("ID"), primary_key=True, default=SINGLETON_ID, editable=False
    )
    global_kill_switch = models.BooleanField(
        _("global kill switch"), default=False, help_text=_("On: AI off for everyone.")
    )
    reason = models.TextField(_("reason"), blank=True)
    updated_by = models.CharField(_("updated by"), max_length=254, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        db_table = "ai_global_settings"
        verbose_name = _("global AI settings")
        verbose_name_plural = _("global AI settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="ai_global_settings_singleton")
        ]

    def __str__(self) -> str:
        return str(_("Global AI settings"))


class AISettings(models.Model):
    """A tenant's own kill switch; one row per tenant, created with the tenant."""

    tenant = models.OneToOneField(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        db_column="tenant_id",
        related_name="ai_settings",
        verbose_name=_("tenant"),
    )
    kill_switch = models.BooleanField(
        _("kill switch"), default=False, help_text=_("On: AI off for this tenant.")
    )
    reason = models.TextField(_("reason"), blank=True)
    updated_by = models.CharField(_("updated by"), max_length=254, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        db_table = "ai_settings"
        verbose_name = _("tenant AI settings")
        verbose_name_plural = _("tenant AI settings")

    def __str__(self) -> str:
        return _("AI settings of %(tenant)s") % {"tenant": self.tenant_id}


class KillSwitchChange(models.Model):
    """The audit trail of kill switches: who turned which one, when, why, from what to what."""

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="kill_switch_changes",
        verbose_name=_("tenant"),
        help_text=_("Empty for the global switch."),
    )
    old_value = models.BooleanField(_("old value"))
    new_value = models.BooleanField(_("new value"))
    reason = models.TextField(_("reason"))
    changed_by = models.CharField(_("changed by"), max_length=254)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        ordering = ["-changed_at"]
        verbose_name = _("kill switch change")
        verbose_name_plural = _("kill switch changes")

    def __str__(self) -> str:
        scope = self.tenant_id or "global"
        return f"{scope}: {self.old_value} → {self.new_value} by {self.changed_by}"
