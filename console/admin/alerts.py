"""Cost alerts in the staff console: the alerts with their deliveries and a Resend action, the
platform threshold's single page, and the tenants' webhook endpoints (also inline on the
tenant page), whose signing secret is shown once, when created or regenerated."""

from django.contrib import admin, messages
from django.db import models
from django.shortcuts import redirect
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from alerts.delivery import alert_deliveries_resend
from alerts.models import Alert, AlertDelivery, AlertSettings, WebhookEndpoint
from alerts.webhooks import webhook_secret_hint, webhook_secret_regenerate
from keybuzz.admin_audit import ValueChangesLogged, in_site_language
from keybuzz.read_only_admin import ReadOnlyModelAdmin


def _announce_secret(request, endpoint: WebhookEndpoint) -> None:
    messages.warning(
        request,
        gettext(
            "The signing secret of %(tenant)s's webhook is %(secret)s. Copy it now: it is not "
            "shown again (regenerate it if it is lost)."
        )
        % {"tenant": endpoint.tenant_id, "secret": endpoint.secret},
    )


class DeliveryStatusFilter(admin.SimpleListFilter):
    title = _("delivery status")
    parameter_name = "delivery_status"

    def lookups(self, request, model_admin):
        return AlertDelivery.Status.choices

    def queryset(self, request, queryset):
        if self.value() not in AlertDelivery.Status.values:
            return queryset
        return queryset.filter(deliveries__status=self.value()).distinct()


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    extra = 0
    can_delete = False
    fields = ["channel", "status", "attempts", "next_attempt_at", "delivered_at", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyModelAdmin):
    list_display = [
        "created_at",
        "tenant",
        "kind",
        "threshold",
        "day",
        "spend_usd",
        "budget_usd",
        "deliveries_shown",
    ]
    list_select_related = ["tenant"]
    list_filter = ["kind", DeliveryStatusFilter, "day"]
    search_fields = ["tenant__id", "tenant__name"]
    search_help_text = _("A tenant id or name.")
    date_hierarchy = "day"
    readonly_fields = ["event_id"]
    inlines = [AlertDeliveryInline]
    actions = ["resend"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description=_("deliveries"))
    def deliveries_shown(self, alert: Alert) -> str:
        return format_html_join(
            mark_safe("<br>"),
            "{}: {}{}",
            (
                (
                    delivery.get_channel_display(),
                    delivery.get_status_display(),
                    _attempts_shown(delivery),
                )
                for delivery in alert.deliveries.all()
            ),
        )

    @admin.display(description=_("event ID"))
    def event_id(self, alert: Alert) -> str:
        return alert.event_id

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("alerts.change_alertdelivery")

    @admin.action(description=_("Resend the selected alerts"), permissions=["resend"])
    def resend(self, request, queryset):
        alerts = list(queryset)
        for alert in alerts:
            count = alert_deliveries_resend(deliveries=AlertDelivery.objects.filter(alert=alert))
            with in_site_language():
                message = ngettext(
                    "Resend requested: %(count)d delivery pending again.",
                    "Resend requested: %(count)d deliveries pending again.",
                    count,
                ) % {"count": count}
            self.log_change(request, alert, message)
        self.message_user(
            request,
            ngettext(
                "%(count)d alert will be sent again by deliver_alerts.",
                "%(count)d alerts will be sent again by deliver_alerts.",
                len(alerts),
            )
            % {"count": len(alerts)},
            messages.SUCCESS,
        )


def _attempts_shown(delivery: AlertDelivery) -> str:
    if not delivery.attempts:
        return ""
    shown = ngettext("%(count)d attempt", "%(count)d attempts", delivery.attempts) % {
        "count": delivery.attempts
    }
    if delivery.last_error:
        shown = f"{shown}, {delivery.last_error}"
    return format_html(" ({})", shown)


@admin.register(AlertSettings)
class AlertSettingsAdmin(ValueChangesLogged):
    """A single-object page: the list goes straight to the one row."""

    fields = ["platform_daily_usd", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return redirect("admin:alerts_alertsettings_change", AlertSettings.SINGLETON_ID)


class SecretShown:
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description=_("signing secret"))
    def secret_shown(self, endpoint: WebhookEndpoint) -> str:
        return webhook_secret_hint(endpoint.secret) if endpoint.pk else "—"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SecretShown, ValueChangesLogged):
    list_display = ["tenant", "url", "is_active", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__id", "tenant__name", "url"]
    autocomplete_fields = ["tenant"]
    actions = ["regenerate_secret"]

    def get_fields(self, request, obj=None):
        return ["tenant", "url", "is_active", "secret_shown", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["secret_shown", "created_at"]
        return ["tenant", *readonly] if obj else readonly

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            _announce_secret(request, obj)

    @admin.action(description=_("Regenerate the signing secret"), permissions=["change"])
    def regenerate_secret(self, request, queryset):
        for endpoint in queryset.select_related("tenant"):
            webhook_secret_regenerate(endpoint=endpoint)
            with in_site_language():
                message = gettext("Regenerated the signing secret.")
            self.log_change(request, endpoint, message)
            _announce_secret(request, endpoint)


class WebhookEndpointInline(SecretShown, admin.StackedInline):
    """The tenant page's webhook endpoint; a new one's secret is shown once, on saving."""

    model = WebhookEndpoint
    extra = 0
    max_num = 1
    fields = ["url", "is_active", "secret_shown"]
    readonly_fields = ["secret_shown"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        class AnnouncingFormSet(formset):
            def save_new(self, form, commit=True):
                endpoint = super().save_new(form, commit=commit)
                _announce_secret(request, endpoint)
                return endpoint

        return AnnouncingFormSet
