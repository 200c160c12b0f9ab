"""The "Grant a one-day top-up" page of a tenant: extra budget for its current local day,
granted by usage.top_ups.budget_top_up (which audits it as a BudgetTopUp row)."""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from keybuzz.admin_audit import in_site_language
from keybuzz.errors import InvalidRequest
from keybuzz.money_display import usd
from usage.budget import budget_state
from usage.pricing import from_micros
from usage.selectors import percent_used
from usage.top_ups import TOP_UP_MAX_USD, budget_top_up, top_up_amount_errors

from .budget_display import percent_badge

TOP_UP_TEMPLATE = "admin/tenants/tenant/top_up.html"


class TopUpForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount (USD)"))
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = gettext(
            "Added to the tenant's budget for its current local day only; at most %(max)s."
        ) % {"max": usd(TOP_UP_MAX_USD)}

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        errors = top_up_amount_errors(amount)
        if errors:
            raise ValidationError(errors)
        return amount


class TopUpView:
    """A ModelAdmin mixin: the top-up page at <tenant pk>/top-up/ and its permission."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.top_up_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_top_up"
        # Before the model's own URLs: their "<path:object_id>/" would swallow this one.
        return [path("<path:object_id>/top-up/", view, name=name), *super().get_urls()]

    def has_top_up_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(
            "usage.add_budgettopup"
        ) and self.has_view_or_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_top_up": self.has_top_up_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def top_up_view(self, request, object_id):
        if not self.has_top_up_permission(request):
            raise PermissionDenied
        tenant = self.get_object(request, unquote(object_id))
        if tenant is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        form = TopUpForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                top_up = budget_top_up(
                    tenant=tenant,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user.email,
                )
            except InvalidRequest as exc:  # the service's own checks, should they differ
                for field, errors in exc.extra.get("errors", {}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return self._top_up_done(request, tenant, top_up)
        day = tenant.local_day()
        state = budget_state(tenant=tenant, day=day)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Grant a one-day top-up"),
            "subtitle": str(tenant),
            "opts": self.opts,
            "original": tenant,
            "form": form,
            "day": day,
            "daily": usd(state.daily),
            "granted": usd(from_micros(state.granted_micros)),
            "used": usd(state.used),
            "remaining": usd(state.remaining),
            "percent": percent_badge(percent_used(used=state.used, daily=state.daily)),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, TOP_UP_TEMPLATE, context)

    def _top_up_done(self, request, tenant, top_up):
        values = {"amount": usd(top_up.amount_usd), "day": top_up.day, "reason": top_up.reason}
        with in_site_language():
            message = (
                gettext("Granted a one-day top-up of %(amount)s for %(day)s. Reason: %(reason)s")
                % values
            )
        self.log_change(request, tenant, message)
        self.message_user(
            request,
            gettext("Granted %(amount)s more to %(tenant)s for %(day)s.")
            % {**values, "tenant": tenant},
            messages.SUCCESS,
        )
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(tenant.pk)],
            current_app=self.admin_site.name,
        )
        return HttpResponseRedirect(change_url)
