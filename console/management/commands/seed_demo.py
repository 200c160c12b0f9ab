from console.demo import HISTORY_DAYS, demo_seed
from keybuzz.cli import KeyBuzzCommand, refuse_without_debug


class Command(KeyBuzzCommand):
    help = f"Demo tenants, logins and {HISTORY_DAYS} days of usage history (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="seed even with DEBUG off (known passwords!)"
        )

    def handle(self, *args, **options):
        refuse_without_debug(force=options["force"], why="its logins have published passwords")
        logins = demo_seed()
        self.stdout.write("Demo data ready. Logins (email / password):")
        for login in logins:
            self.stdout.write(f"  {login.email} / {login.password}   ({login.role})")
