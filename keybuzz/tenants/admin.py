from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from ai.models import AISettings

from .models import ApiToken, Membership, Plan, Tenant, User
from .tokens import api_tokens_revoke_selected


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "daily_budget_usd",
        "requests_per_minute",
        "model",
        "fallback_model",
    ]


class AISettingsInline(admin.StackedInline):
    """Shown here; changed on its own page so that every change is audited with a reason."""

    model = AISettings
    can_delete = False
    fields = ["kill_switch", "reason", "updated_by", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "plan",
        "timezone",
        "language",
        "is_active",
        "daily_budget_override",
    ]
    list_filter = ["plan", "is_active", "language"]
    search_fields = ["id", "name"]
    inlines = [AISettingsInline, MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return ["id"] if obj else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        AISettings.objects.get_or_create(tenant=obj)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__id", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by `manage.py create_api_token`; here they can only be revoked."""

    list_display = ["prefix", "user", "created_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "user__email"]
    readonly_fields = ["prefix", "user", "created_at", "revoked_at"]
    fields = readonly_fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = api_tokens_revoke_selected(tokens=queryset)
        self.message_user(request, f"Revoked {revoked} token(s).")
