"""Tenant kill switches in the console: the bulk actions with their reason step, and the inline
of the tenant page. Every change goes through ai.kill_switches.kill_switch_set, which audits it
(KillSwitchChange); the console adds a LogEntry on the tenant."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ai.kill_switches import kill_switch_set
from ai.models import AISettings
from keybuzz.admin_audit import in_site_language
from tenants.models import Tenant

CONFIRMATION_TEMPLATE = "admin/tenants/tenant/kill_switch_confirmation.html"


class KillSwitchReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded with each change in the kill switch audit trail."),
    )


def kill_switch_log_message(*, on: bool, reason: str) -> str:
    if on:
        return gettext("Turned the kill switch on (AI disabled). Reason: %(reason)s") % {
            "reason": reason
        }
    return gettext("Turned the kill switch off (AI enabled). Reason: %(reason)s") % {
        "reason": reason
    }


class KillSwitchActions:
    """ModelAdmin actions "Disable AI" and "Enable AI", for users who may change kill switches.

    The first POST (from the changelist) shows the selected tenants and asks for a reason; the
    confirmation posts back to the changelist with the same action and selection, plus `post`.
    """

    def has_kill_switch_permission(self, request) -> bool:
        return request.user.has_perm("ai.change_aisettings")

    @admin.action(description=_("Disable AI (kill switch on)"), permissions=["kill_switch"])
    def disable_ai(self, request, queryset):
        return self._kill_switch_step(request, queryset, on=True, action="disable_ai")

    @admin.action(description=_("Enable AI (kill switch off)"), permissions=["kill_switch"])
    def enable_ai(self, request, queryset):
        return self._kill_switch_step(request, queryset, on=False, action="enable_ai")

    def _kill_switch_step(self, request, queryset, *, on: bool, action: str):
        form = KillSwitchReasonForm(request.POST if "post" in request.POST else None)
        tenants = list(queryset.select_related("ai_settings"))
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            with transaction.atomic():
                for tenant in tenants:
                    kill_switch_set(tenant=tenant, on=on, reason=reason, actor=request.user.email)
                    with in_site_language():
                        message = kill_switch_log_message(on=on, reason=reason)
                    self.log_change(request, tenant, message)
            done = self._done_message(on=on, count=len(tenants))
            self.message_user(request, done, messages.SUCCESS)
            return None  # back to the changelist
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Disable AI") if on else gettext("Enable AI"),
            "subtitle": None,
            "opts": self.opts,
            "tenants": tenants,
            "turn_on": on,
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, CONFIRMATION_TEMPLATE, context)

    @staticmethod
    def _done_message(*, on: bool, count: int) -> str:
        if on:
            text = ngettext(
                "Disabled AI for %(count)d tenant.", "Disabled AI for %(count)d tenants.", count
            )
        else:
            text = ngettext(
                "Enabled AI for %(count)d tenant.", "Enabled AI for %(count)d tenants.", count
            )
        return text % {"count": count}


class AISettingsInlineForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Required when you turn the kill switch on or off."),
    )

    class Meta:
        model = AISettings
        fields = ["kill_switch"]

    def clean(self):
        cleaned = super().clean()
        if self.kill_switch_changed() and not cleaned.get("change_reason"):
            self.add_error(
                "change_reason", gettext("Give a reason to turn the kill switch on or off.")
            )
        return cleaned

    def kill_switch_changed(self) -> bool:
        # has_changed() is False, whatever was posted, for users who may not change the row
        # (the admin's inline form overrides it).
        return self.has_changed() and "kill_switch" in self.changed_data


class AISettingsInline(admin.StackedInline):
    """The tenant's kill switch. Saved by TenantAdmin.save_formset via kill_switch_formset_save,
    never by a plain save, so that every change is audited with its reason."""

    model = AISettings
    form = AISettingsInlineForm
    can_delete = False
    fields = ["kill_switch", "change_reason", "current_reason", "updated_by", "updated_at"]
    readonly_fields = ["current_reason", "updated_by", "updated_at"]

    def has_add_permission(self, request, obj=None):
        return False  # the row comes with the tenant

    @admin.display(description=_("reason of the current state"))
    def current_reason(self, settings: AISettings) -> str:
        return settings.reason

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if not self.has_change_permission(request, obj):
            return [name for name in fields if name != "change_reason"]
        return fields


def kill_switch_formset_save(formset, *, tenant: Tenant, actor: str) -> None:
    """Apply the inline's kill switch change with kill_switch_set, and record it on the formset
    the way formset.save() would, for the admin's change message."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.forms:
        if not form.kill_switch_changed():
            continue
        kill_switch_set(
            tenant=tenant,
            on=form.cleaned_data["kill_switch"],
            reason=form.cleaned_data["change_reason"],
            actor=actor,
        )
        formset.changed_objects.append((form.instance, ["kill_switch"]))
