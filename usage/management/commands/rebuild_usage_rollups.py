from django.core.management.base import CommandError

from keybuzz.cli import KeyBuzzCommand, iso_date
from tenants.models import Tenant
from usage.rebuild import RebuildConflict, rollups_rebuild

MAX_LINES = 50


class Command(KeyBuzzCommand):
    help = (
        "Compare the usage rollups and the budget counters' spend with the ai_usage rows, and "
        "repair them (or only report, with --check: exit 1 when they differ). Days before the "
        "latest purge_usage are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="ID", help="only this tenant (default: all)")
        parser.add_argument(
            "--since", type=iso_date, metavar="DATE", help="only local days from DATE on"
        )
        parser.add_argument("--check", action="store_true", help="report only, repair nothing")

    def handle(self, *args, **options):
        tenant = None
        if options["tenant"] is not None:
            tenant = Tenant.objects.filter(pk=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"unknown tenant '{options['tenant']}'")
        try:
            report = rollups_rebuild(tenant=tenant, since=options["since"], check=options["check"])
        except RebuildConflict as exc:
            raise CommandError(str(exc)) from exc
        differences = report.differences
        for difference in differences[:MAX_LINES]:
            self.stdout.write(str(difference))
        if len(differences) > MAX_LINES:
            self.stdout.write(f"… and {len(differences) - MAX_LINES} more.")
        scope = f"{report.tenants} tenant(s), {report.rows} row(s) read"
        if report.purged_before is not None:
            scope += f"; days before {report.purged_before} are purged and left as they are"
        counts = f"{len(report.rollups)} rollup(s) and {len(report.counters)} budget counter(s)"
        if not differences:
            self.stdout.write(f"Rollups and budget counters match the rows ({scope}).")
        elif options["check"]:
            self.stdout.write(f"{counts} differ from the rows ({scope}).")
            raise CommandError("rollups or budget counters differ; run without --check to repair")
        else:
            self.stdout.write(f"Repaired {counts} ({scope}).")
