"""Admin edits recorded with their values, in Django's own audit trail (LogEntry).

Django logs which fields an admin change touched; for plans, prices and tenants support needs
to know from what to what, so the message of the change names each field's old and new value.
"""

import json

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import models
from django.utils import translation


def in_site_language():
    """Audit text is stored: write it in the site's language, whatever the editor's own."""
    return translation.override(settings.LANGUAGE_CODE)


def _shown(value) -> str:
    if isinstance(value, models.Model):
        value = value.pk
    return "—" if value in (None, "") else str(value)


class ValueChangesLogged(admin.ModelAdmin):
    def construct_change_message(self, request, form, formsets, add):
        default = super().construct_change_message(request, form, formsets, add)
        model_fields = {field.name for field in form.instance._meta.fields}
        changed = [name for name in form.changed_data if name in model_fields]
        if add or not changed:
            return default
        # Stored as text, so written in the site's language whatever the editor's own.
        with in_site_language():
            changes = "; ".join(
                f"{form[name].label}: {_shown(form.initial.get(name))} → "
                f"{_shown(form.cleaned_data.get(name))}"
                for name in changed
            )
            inlines = LogEntry(change_message=json.dumps(default[1:])).get_change_message()
        return f"Changed {changes}." + (f" {inlines}" if len(default) > 1 else "")
