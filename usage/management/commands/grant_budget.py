from django.core.management.base import CommandError

from keybuzz.cli import CLI_ACTOR, KeyBuzzCommand, usd_amount
from keybuzz.errors import InvalidRequest
from tenants.models import Tenant
from usage.top_ups import budget_top_up, top_up_amount_errors


class Command(KeyBuzzCommand):
    help = "Grant a tenant extra budget for its current local day (a one-day top-up)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="ID", required=True)
        parser.add_argument("--amount", metavar="USD", required=True, type=usd_amount)
        parser.add_argument("--reason", required=True, help="why; recorded in the audit trail")

    def handle(self, *args, **options):
        problems = top_up_amount_errors(options["amount"])
        if problems:
            raise CommandError(f"--amount: {problems[0]}")
        if not options["reason"].strip():
            raise CommandError("--reason must not be empty")
        tenant = Tenant.objects.select_related("plan").filter(pk=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"unknown tenant '{options['tenant']}'")
        try:
            top_up = budget_top_up(
                tenant=tenant, amount=options["amount"], reason=options["reason"], actor=CLI_ACTOR
            )
        except InvalidRequest as exc:  # checked above; kept so no path prints a traceback
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Granted {top_up.amount_usd} USD to {tenant.id} for {top_up.day:%Y-%m-%d} "
            f"(reason: {top_up.reason})."
        )
