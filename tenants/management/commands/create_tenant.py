from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from keybuzz.cli import KeyBuzzCommand, usd_amount, validation_message
from tenants.models import Plan, Tenant
from tenants.services import tenant_create


class Command(KeyBuzzCommand):
    help = "Create a tenant and its AI settings."

    def add_arguments(self, parser):
        parser.add_argument("tenant_id", metavar="ID", help="e.g. ecomlg-001")
        parser.add_argument("--name", required=True)
        parser.add_argument("--plan", required=True, help="starter, pro or autopilot")
        parser.add_argument("--timezone", default="", help="IANA name, e.g. Europe/Paris")
        parser.add_argument("--language", choices=Tenant.Language.values, default="en")
        parser.add_argument("--daily-budget", type=usd_amount, help="overrides the plan's budget")

    def handle(self, *args, **options):
        plan = Plan.objects.filter(pk=options["plan"]).first()
        if plan is None:
            known = ", ".join(Plan.objects.order_by("code").values_list("code", flat=True))
            raise CommandError(f"unknown plan '{options['plan']}' (known: {known})")
        try:
            tenant = tenant_create(
                tenant_id=options["tenant_id"],
                name=options["name"],
                plan=plan,
                timezone=options["timezone"],
                language=options["language"],
                daily_budget_override=options["daily_budget"],
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(
            f"Created tenant {tenant.id} ({tenant.name}) on plan {plan.code}, "
            f"daily budget ${tenant.daily_budget}, timezone {tenant.zone.key}."
        )
