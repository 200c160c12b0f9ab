"""Services that create and change tenants, users and memberships."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from .models import Membership, Plan, Tenant, User
from .models.users import normalize_email


@transaction.atomic
def tenant_create(
    *,
    tenant_id: str,
    name: str,
    plan: Plan,
    timezone: str = "",
    language: str = Tenant.Language.EN,
    daily_budget_override: Decimal | None = None,
) -> Tenant:
    """Create a tenant; raise ValidationError on bad values. (Its AI settings row comes with
    it: the pipeline creates one for every new tenant, ai.kill_switches.)"""
    tenant = Tenant(
        id=tenant_id,
        name=name.strip(),
        plan=plan,
        timezone=timezone,
        language=language,
        daily_budget_override=daily_budget_override,
    )
    tenant.full_clean()  # also rejects an id that is already taken
    tenant.save(force_insert=True)
    return tenant


def user_get_or_create(*, email: str, is_staff: bool = False) -> tuple[User, bool]:
    """The user with this email, created without a usable password if missing."""
    email = normalize_email(email)
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User(email=email, is_staff=is_staff)
        user.set_unusable_password()
        user.full_clean()
        user.save()
        return user, True
    if is_staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user, False


def membership_get_or_create(
    *, user: User, tenant: Tenant, role: str = Membership.Role.AGENT
) -> tuple[Membership, bool]:
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"Unknown role '{role}'."})
    return Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": role})
