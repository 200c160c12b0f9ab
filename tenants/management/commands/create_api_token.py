from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_email
from django.db import transaction

from keybuzz.cli import KeyBuzzCommand, validation_message
from tenants.models import Membership, Tenant
from tenants.services import membership_get_or_create, user_get_or_create
from tenants.tokens import api_token_issue


class Command(KeyBuzzCommand):
    help = (
        "Issue an API token for a tenant's user, creating the user (without a usable password) "
        "and the membership if missing. The token is printed alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, metavar="ID")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", choices=Membership.Role.values, default="agent")
        parser.add_argument("--staff", action="store_true", help="make the user staff")

    def handle(self, *args, **options):
        try:
            validate_email(options["email"])
        except ValidationError:
            raise CommandError(f"'{options['email']}' is not a valid email address") from None
        tenant = Tenant.objects.filter(pk=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"unknown tenant '{options['tenant']}'")
        try:
            with transaction.atomic():
                user, user_created = user_get_or_create(
                    email=options["email"], is_staff=options["staff"]
                )
                membership, _ = membership_get_or_create(
                    user=user, tenant=tenant, role=options["role"]
                )
                token, raw_token = api_token_issue(user=user)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(
            f"{'Created' if user_created else 'Found'} user {user.email}"
            f"{' (staff)' if user.is_staff else ''}, {membership.role} of {tenant.id}; "
            f"token {token.prefix}… issued. Store it now: it is not shown again."
        )
        self.stdout.write(raw_token)
