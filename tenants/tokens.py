"""API tokens: issued once in clear, stored as SHA-256 digests, revocable."""

import hashlib
import secrets

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from keybuzz import fixed_sql

from .models import ApiToken, User

TOKEN_PREFIX_LENGTH = 12  # "kbz_" and 8 random characters: enough to tell tokens apart
MIN_REVOKE_PREFIX_LENGTH = 6  # past the fixed "kbz_", so a prefix names some tokens, not all


def token_digest(raw_token: str) -> str:
    # Tokens carry ~240 bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw_token.encode()).hexdigest()


def api_token_issue(*, user: User) -> tuple[ApiToken, str]:
    """Create a token for the user; the clear token is returned once and never stored."""
    raw_token = f"kbz_{secrets.token_urlsafe(30)}"
    token = ApiToken.objects.create(
        user=user, prefix=raw_token[:TOKEN_PREFIX_LENGTH], digest=token_digest(raw_token)
    )
    return token, raw_token


def api_tokens_revoke(*, user: User, prefix: str | None = None) -> int:
    """Revoke the user's active tokens (those starting with `prefix`, or all); return how many."""
    tokens = ApiToken.objects.filter(user=user)
    if prefix is not None:
        # Matched here, not with LIKE: tokens are case-sensitive and SQLite's LIKE is not.
        # A user holds a handful of tokens, so reading their prefixes costs nothing.
        matching = [
            pk for pk, head in tokens.values_list("pk", "prefix") if head.startswith(prefix)
        ]
        tokens = tokens.filter(pk__in=matching)
    return api_tokens_revoke_selected(tokens=tokens)


def api_tokens_revoke_selected(*, tokens: QuerySet[ApiToken]) -> int:
    """Revoke the active tokens among `tokens` (e.g. an admin selection); return how many."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_user(*, raw_token: str) -> User | None:
    """The active user behind an active token, or None.

    Every API request runs this: one fixed statement on the digest's unique index
    (keybuzz.fixed_sql).
    """
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_USER, [token_digest(raw_token)])
        row = cursor.fetchone()
    return None if row is None else fixed_sql.from_row(User, row)


_TOKEN_USER = (
    f"SELECT {fixed_sql.columns(User, 'u')} "  # noqa: S608 (table and column names from _meta)
    f'FROM "{ApiToken._meta.db_table}" t JOIN "{User._meta.db_table}" u ON u."id" = t."user_id" '
    'WHERE t."digest" = %s AND t."revoked_at" IS NULL AND u."is_active"'
)
