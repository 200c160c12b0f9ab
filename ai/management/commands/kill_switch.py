from django.core.management.base import CommandError

from ai.kill_switches import kill_switch_set
from keybuzz.cli import CLI_ACTOR, KeyBuzzCommand
from tenants.models import Tenant


class Command(KeyBuzzCommand):
    help = "Turn the global AI kill switch, or a tenant's with --tenant, on or off."

    def add_arguments(self, parser):
        parser.add_argument("state", choices=["on", "off"], help="on = AI disabled")
        parser.add_argument("--tenant", metavar="ID", help="a tenant's switch (default: global)")
        parser.add_argument("--reason", required=True, help="why; recorded in the audit trail")

    def handle(self, *args, **options):
        if not options["reason"].strip():
            raise CommandError("--reason must not be empty")
        tenant = None
        if options["tenant"] is not None:
            tenant = Tenant.objects.filter(pk=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"unknown tenant '{options['tenant']}'")
        change = kill_switch_set(
            tenant=tenant, on=options["state"] == "on", reason=options["reason"], actor=CLI_ACTOR
        )
        scope = f"Kill switch of {tenant.id}" if tenant else "Global kill switch"
        state = {True: "on", False: "off"}
        self.stdout.write(
            f"{scope}: {state[change.old_value]} → {state[change.new_value]} "
            f"(reason: {change.reason})."
        )
