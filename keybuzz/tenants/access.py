"""The one tenant-access check every tenant-scoped endpoint uses (CONTRACT §3)."""

from enum import Enum

from django.db.models import Exists, OuterRef

from keybuzz.errors import Forbidden, InvalidRequest, NotFound
from keybuzz.logging import log_context_set

from .models import Membership, Tenant, User


class TenantInactive(Forbidden):
    code = "tenant_inactive"
    message = "This tenant is inactive."


class Access(Enum):
    READ = "read"  # members and staff
    SPEND = "spend"  # members only: staff never spend a customer's budget


def tenant_for_user(*, user: User, tenant_id: str | None, access: Access) -> Tenant:
    """The tenant `user` may use for `access`, or the contract's 400/404/403.

    Unknown id → 404; no right to it → 403 forbidden; inactive → 403 tenant_inactive (staff
    may still read an inactive tenant's data, its members may not).
    """
    if not tenant_id:
        raise InvalidRequest(errors={"tenantId": ["This field is required."]})
    # One query on every request: the tenant with its plan and price, and whether the user is
    # a member of it.
    tenant = (
        Tenant.objects.select_related("plan__model")
        .annotate(is_member=Exists(Membership.objects.filter(user=user, tenant=OuterRef("pk"))))
        .filter(pk=tenant_id)
        .first()
    )
    if tenant is None:
        raise NotFound(f"Unknown tenant '{tenant_id}'.")
    if not tenant.is_member and not (user.is_staff and access is Access.READ):
        raise Forbidden("You are not a member of this tenant.")
    if not tenant.is_active and (access is Access.SPEND or not user.is_staff):
        raise TenantInactive()
    log_context_set(tenant_id=tenant.id)
    return tenant
