"""The one tenant-access check every tenant-scoped endpoint uses (CONTRACT §3)."""

from dataclasses import dataclass
from enum import Enum

from django.db import connection
from django.utils.translation import gettext

from keybuzz import fixed_sql
from keybuzz.errors import Forbidden, InvalidRequest, NotFound
from keybuzz.structured_logging import log_context_set

from .models import Membership, ModelPrice, Plan, Tenant, User


class TenantInactive(Forbidden):
    code = "tenant_inactive"
    message = "This tenant is inactive."


class Access(Enum):
    READ = "read"  # members and staff
    SPEND = "spend"  # members only: staff never spend a customer's budget


@dataclass(frozen=True)
class TenantAccess:
    """A tenant a user may use, and how: as a member, or as staff reading it."""

    tenant: Tenant
    as_member: bool


def tenant_for_user(*, user: User, tenant_id: str | None, access: Access) -> Tenant:
    """The tenant `user` may use for `access`, or the contract's 400/404/403."""
    return tenant_access_check(user=user, tenant_id=tenant_id, access=access).tenant


def tenant_access_check(*, user: User, tenant_id: str | None, access: Access) -> TenantAccess:
    """The tenant `user` may use for `access` and whether as a member, or the contract's
    400/404/403.

    Unknown id → 404; no right to it → 403 forbidden; inactive → 403 tenant_inactive (staff
    may still read an inactive tenant's data, its members may not). Messages are in the
    request's language: the usage page shows them as they are.
    """
    if not tenant_id:
        raise InvalidRequest(errors={"tenantId": ["This field is required."]})
    tenant, is_member = _tenant_with_membership(tenant_id=tenant_id, user=user)
    if tenant is None:
        raise NotFound(gettext("There is no tenant “%(id)s”.") % {"id": tenant_id})
    if not is_member and not (user.is_staff and access is Access.READ):
        raise Forbidden(gettext("You are not a member of this tenant."))
    if not tenant.is_active and (access is Access.SPEND or not user.is_staff):
        raise TenantInactive()
    log_context_set(tenant_id=tenant.id)
    return TenantAccess(tenant=tenant, as_member=is_member)


# Every tenant-scoped request runs this: one fixed statement (keybuzz.fixed_sql) for the tenant,
# its plan and the plan's model price, and whether the user is a member.
_MEMBER_TENANT, _MEMBER_USER = (fixed_sql.column(Membership, f) for f in ("tenant", "user"))
_TENANT_WITH_MEMBERSHIP = (
    f"SELECT {fixed_sql.columns(Tenant, 't')}, {fixed_sql.columns(Plan, 'p')}, "  # noqa: S608
    f"{fixed_sql.columns(ModelPrice, 'm')}, EXISTS (SELECT 1 FROM "
    f'"{Membership._meta.db_table}" ms WHERE ms."{_MEMBER_TENANT}" = t."id" '
    f'AND ms."{_MEMBER_USER}" = %s) '
    f'FROM "{Tenant._meta.db_table}" t JOIN "{Plan._meta.db_table}" p '
    f'ON p."{Plan._meta.pk.column}" = t."{fixed_sql.column(Tenant, "plan")}" '
    f'JOIN "{ModelPrice._meta.db_table}" m '
    f'ON m."{ModelPrice._meta.pk.column}" = p."{fixed_sql.column(Plan, "model")}" '
    'WHERE t."id" = %s'
)


def _tenant_with_membership(*, tenant_id: str, user: User) -> tuple[Tenant | None, bool]:
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_WITH_MEMBERSHIP, [user.pk, tenant_id])
        row = cursor.fetchone()
    if row is None:
        return None, False
    tenant_end = fixed_sql.column_count(Tenant)
    plan_end = tenant_end + fixed_sql.column_count(Plan)
    tenant = fixed_sql.from_row(Tenant, row[:tenant_end])
    tenant.plan = fixed_sql.from_row(Plan, row[tenant_end:plan_end])
    tenant.plan.model = fixed_sql.from_row(ModelPrice, row[plan_end:-1])
    return tenant, bool(row[-1])
