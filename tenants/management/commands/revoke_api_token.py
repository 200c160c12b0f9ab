from django.core.management.base import CommandError

from keybuzz.cli import KeyBuzzCommand
from tenants.models import User
from tenants.models.users import normalize_email
from tenants.tokens import (
    MIN_REVOKE_PREFIX_LENGTH,
    TOKEN_PREFIX_LENGTH,
    api_tokens_revoke,
)


class Command(KeyBuzzCommand):
    help = "Revoke a user's API tokens: all of them, or those starting with a prefix."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every active token of the user")
        which.add_argument("--token-prefix", metavar="P", help="the token's first characters")

    def handle(self, *args, **options):
        prefix = options["token_prefix"]
        if (
            prefix is not None
            and not MIN_REVOKE_PREFIX_LENGTH <= len(prefix) <= TOKEN_PREFIX_LENGTH
        ):
            raise CommandError(
                f"--token-prefix takes the token's first {MIN_REVOKE_PREFIX_LENGTH} to "
                f"{TOKEN_PREFIX_LENGTH} characters"
            )
        user = User.objects.filter(email=normalize_email(options["email"])).first()
        if user is None:
            raise CommandError(f"unknown user '{options['email']}'")
        revoked = api_tokens_revoke(user=user, prefix=prefix)
        if revoked == 0:
            raise CommandError(f"no active token of {user.email} matches")
        self.stdout.write(f"Revoked {revoked} token(s) of {user.email}.")
