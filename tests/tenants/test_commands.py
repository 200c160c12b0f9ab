"""create_tenant, create_api_token and revoke_api_token (CONTRACT §6).

Most tests go through `call_command`, where a bad argument raises CommandError. A few run
`manage.py` in a child process to check what an operator sees: one line on stderr, exit 2 for
argparse errors and 1 for CommandError.
"""

import hashlib
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ai.models import AISettings
from tenants.models import ApiToken, Membership, Tenant, User
from tenants.tokens import api_token_user

TOKEN_PATTERN = re.compile(r"kbz_[A-Za-z0-9_-]{40}")
REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "manage.py").is_file())


def _written() -> dict[str, int]:
    """Everything these commands can write, counted: a refused command must leave it as is."""
    return {
        "tenants": Tenant.objects.count(),
        "ai_settings": AISettings.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "tokens": ApiToken.objects.count(),
        "active_tokens": ApiToken.objects.filter(revoked_at__isnull=True).count(),
    }


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _issue(tenant_id: str, email: str, *extra: str) -> str:
    """create_api_token's printed token (its last stdout line)."""
    return _run("create_api_token", "--tenant", tenant_id, "--email", email, *extra).splitlines()[
        -1
    ]


# --- create_tenant -------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_tenant_stores_the_given_fields():
    # given / when
    _run(
        "create_tenant",
        "shop-42",
        "--name",
        "Shop 42",
        "--plan",
        "autopilot",
        "--timezone",
        "America/New_York",
        "--language",
        "fr",
        "--daily-budget",
        "2.50",
    )

    # then
    tenant = Tenant.objects.get(pk="shop-42")
    assert (
        tenant.name,
        tenant.plan_id,
        tenant.timezone,
        tenant.language,
        tenant.daily_budget_override,
        tenant.is_active,
    ) == ("Shop 42", "autopilot", "America/New_York", "fr", Decimal("2.50"), True)


@pytest.mark.django_db
def test_create_tenant_creates_its_ai_settings_with_the_kill_switch_off():
    # given / when
    _run("create_tenant", "shop-42", "--name", "Shop 42", "--plan", "starter")

    # then
    assert AISettings.objects.get(tenant_id="shop-42").kill_switch is False


@pytest.mark.django_db
def test_create_tenant_defaults_to_english_no_timezone_and_the_plan_budget():
    # given / when
    _run("create_tenant", "shop-42", "--name", "Shop 42", "--plan", "pro")

    # then
    tenant = Tenant.objects.get(pk="shop-42")
    assert (
        tenant.language,
        tenant.timezone,
        tenant.daily_budget_override,
        tenant.daily_budget,
    ) == (
        "en",
        "",
        None,
        Decimal("10.00"),
    )


@pytest.mark.django_db
def test_create_tenant_accepts_a_zero_daily_budget():
    # given / when
    _run("create_tenant", "shop-42", "--name", "Shop 42", "--plan", "pro", "--daily-budget", "0")

    # then
    assert Tenant.objects.get(pk="shop-42").daily_budget == Decimal("0")


@pytest.mark.django_db
def test_create_tenant_reports_what_it_created():
    # given / when
    output = _run("create_tenant", "shop-42", "--name", "Shop 42", "--plan", "pro")

    # then
    assert output.splitlines() == [
        "Created tenant shop-42 (Shop 42) on plan pro, daily budget $10.000000, timezone UTC."
    ]


BAD_CREATE_TENANT_ARGS = {
    "missing_id": ["--name", "Shop", "--plan", "pro"],
    "missing_name": ["shop-42", "--plan", "pro"],
    "missing_plan": ["shop-42", "--name", "Shop"],
    "unknown_plan": ["shop-42", "--name", "Shop", "--plan", "enterprise"],
    "plan_in_capitals": ["shop-42", "--name", "Shop", "--plan", "PRO"],
    "empty_id": ["", "--name", "Shop", "--plan", "pro"],
    "id_with_capitals": ["Shop-42", "--name", "Shop", "--plan", "pro"],
    "id_with_space": ["shop 42", "--name", "Shop", "--plan", "pro"],
    "id_with_slash": ["shop/42", "--name", "Shop", "--plan", "pro"],
    "id_starting_with_underscore": ["_shop", "--name", "Shop", "--plan", "pro"],
    "id_too_long": ["a" * 65, "--name", "Shop", "--plan", "pro"],
    "empty_name": ["shop-42", "--name", "", "--plan", "pro"],
    "name_too_long": ["shop-42", "--name", "n" * 201, "--plan", "pro"],
    "unknown_timezone": ["shop-42", "--name", "Shop", "--plan", "pro", "--timezone", "Mars/Base"],
    "misspelt_timezone": ["shop-42", "--name", "S", "--plan", "pro", "--timezone", "Europe/Pari"],
    "path_as_timezone": ["shop-42", "--name", "S", "--plan", "pro", "--timezone", "../etc/passwd"],
    "unknown_language": ["shop-42", "--name", "Shop", "--plan", "pro", "--language", "de"],
    "language_in_capitals": ["shop-42", "--name", "Shop", "--plan", "pro", "--language", "EN"],
    "negative_budget": ["shop-42", "--name", "Shop", "--plan", "pro", "--daily-budget", "-1"],
    "tiny_negative_budget": ["shop-42", "--name", "S", "--plan", "pro", "--daily-budget", "-0.01"],
    "non_numeric_budget": ["shop-42", "--name", "Shop", "--plan", "pro", "--daily-budget", "ten"],
    "empty_budget": ["shop-42", "--name", "Shop", "--plan", "pro", "--daily-budget", ""],
    "nan_budget": ["shop-42", "--name", "Shop", "--plan", "pro", "--daily-budget", "NaN"],
    "infinite_budget": ["shop-42", "--name", "S", "--plan", "pro", "--daily-budget", "Infinity"],
    "budget_beyond_a_micro_dollar": [
        *("shop-42", "--name", "Shop", "--plan", "pro", "--daily-budget", "0.0000001"),
    ],
    "budget_too_large": ["shop-42", "--name", "S", "--plan", "pro", "--daily-budget", "1e12"],
    "unknown_option": ["shop-42", "--name", "Shop", "--plan", "pro", "--colour", "blue"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("args", BAD_CREATE_TENANT_ARGS.values(), ids=BAD_CREATE_TENANT_ARGS.keys())
def test_create_tenant_with_a_bad_argument_fails_and_writes_nothing(args):
    # given
    before = _written()

    # when
    with pytest.raises(CommandError):
        call_command("create_tenant", *args, stdout=StringIO())

    # then
    assert _written() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   "], ids=["empty", "only_spaces"])
def test_create_tenant_rejects_a_blank_name(name):
    # given
    before = _written()

    # when
    with pytest.raises(CommandError):
        call_command("create_tenant", "shop-42", "--name", name, "--plan", "pro", stdout=StringIO())

    # then
    assert _written() == before


@pytest.mark.django_db
def test_create_tenant_with_a_taken_id_fails_and_writes_nothing(make_tenant):
    # given
    make_tenant("shop-42", plan="starter", name="The first one")
    before = _written()

    # when
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "create_tenant", "shop-42", "--name", "Other", "--plan", "pro", stdout=StringIO()
        )

    # then
    assert _written() == before


@pytest.mark.django_db
def test_create_tenant_with_a_taken_id_leaves_the_existing_tenant_unchanged(make_tenant):
    # given
    make_tenant("shop-42", plan="starter", name="The first one")

    # when
    with pytest.raises(CommandError):
        call_command(
            "create_tenant", "shop-42", "--name", "Other", "--plan", "pro", stdout=StringIO()
        )

    # then
    tenant = Tenant.objects.get(pk="shop-42")
    assert (tenant.name, tenant.plan_id) == ("The first one", "starter")


@pytest.mark.django_db
def test_create_tenant_names_the_known_plans_when_the_plan_is_unknown():
    # given / when
    with pytest.raises(CommandError) as raised:
        call_command("create_tenant", "s", "--name", "S", "--plan", "gold", stdout=StringIO())

    # then (in whatever order the database lists them)
    message = re.fullmatch(r"unknown plan 'gold' \(known: (.*)\)", str(raised.value))
    assert set(message.group(1).split(", ")) == {"starter", "pro", "autopilot"}


# --- create_api_token ----------------------------------------------------------------------


@pytest.mark.django_db
def test_create_api_token_prints_the_token_alone_on_the_last_line(tenant):
    # given / when
    output = _run("create_api_token", "--tenant", tenant.id, "--email", "new@ecomlg.test")

    # then
    assert TOKEN_PATTERN.fullmatch(output.splitlines()[-1])


@pytest.mark.django_db
def test_create_api_token_printed_token_authenticates_the_user(tenant):
    # given / when
    raw_token = _issue(tenant.id, "new@ecomlg.test")

    # then
    assert api_token_user(raw_token=raw_token) == User.objects.get(email="new@ecomlg.test")


@pytest.mark.django_db
def test_create_api_token_stores_the_sha256_digest_of_the_token(tenant):
    # given / when
    raw_token = _issue(tenant.id, "new@ecomlg.test")

    # then
    token = ApiToken.objects.get()
    assert (token.digest, token.prefix) == (
        hashlib.sha256(raw_token.encode()).hexdigest(),
        raw_token[:12],
    )


@pytest.mark.django_db
def test_create_api_token_clear_token_is_in_no_database_column(tenant):
    # given
    raw_token = _issue(tenant.id, "new@ecomlg.test")

    # when every column of every table is read back
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            # Table names come from the database itself, not from any input.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            hits += [(table, row) for row in cursor.fetchall() if raw_token in repr(row)]

    # then
    assert hits == []


@pytest.mark.django_db
def test_create_api_token_creates_the_user_without_a_usable_password(tenant):
    # given / when
    _issue(tenant.id, "new@ecomlg.test")

    # then
    assert User.objects.get(email="new@ecomlg.test").has_usable_password() is False


@pytest.mark.django_db
def test_create_api_token_stores_the_email_in_lower_case(tenant):
    # given / when
    _issue(tenant.id, "New.Agent@EcomLG.test")

    # then
    assert list(User.objects.values_list("email", flat=True)) == ["new.agent@ecomlg.test"]


@pytest.mark.django_db
def test_create_api_token_makes_the_user_an_agent_by_default(tenant):
    # given / when
    _issue(tenant.id, "new@ecomlg.test")

    # then
    assert Membership.objects.get(user__email="new@ecomlg.test", tenant=tenant).role == "agent"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "admin", "agent"])
def test_create_api_token_gives_the_requested_role(tenant, role):
    # given / when
    _issue(tenant.id, "new@ecomlg.test", "--role", role)

    # then
    assert Membership.objects.get(user__email="new@ecomlg.test", tenant=tenant).role == role


@pytest.mark.django_db
def test_create_api_token_without_staff_creates_a_non_staff_user(tenant):
    # given / when
    _issue(tenant.id, "new@ecomlg.test")

    # then
    assert User.objects.get(email="new@ecomlg.test").is_staff is False


@pytest.mark.django_db
def test_create_api_token_with_staff_creates_a_staff_user(tenant):
    # given / when
    _issue(tenant.id, "support@keybuzz.test", "--staff")

    # then
    assert User.objects.get(email="support@keybuzz.test").is_staff is True


@pytest.mark.django_db
def test_create_api_token_with_staff_promotes_an_existing_user(tenant, member):
    # given / when
    _issue(tenant.id, member.email, "--staff")

    # then
    member.refresh_from_db()
    assert member.is_staff is True


@pytest.mark.django_db
def test_create_api_token_reuses_an_existing_user_whatever_the_email_case(tenant, member):
    # given
    users_before = User.objects.count()

    # when
    raw_token = _issue(tenant.id, member.email.upper())

    # then
    assert (User.objects.count(), api_token_user(raw_token=raw_token)) == (users_before, member)


@pytest.mark.django_db
def test_create_api_token_keeps_an_existing_users_password(tenant, make_user):
    # given
    make_user("owner@ecomlg.test", tenant=tenant, role="owner", password="s3cret-Passw0rd")

    # when
    _issue(tenant.id, "owner@ecomlg.test")

    # then
    assert User.objects.get(email="owner@ecomlg.test").check_password("s3cret-Passw0rd")


@pytest.mark.django_db
def test_create_api_token_reuses_an_existing_membership_and_its_role(tenant, make_user):
    # given
    user = make_user("owner@ecomlg.test", tenant=tenant, role="owner")

    # when
    _issue(tenant.id, "owner@ecomlg.test", "--role", "agent")

    # then
    assert list(Membership.objects.filter(user=user).values_list("tenant_id", "role")) == [
        (tenant.id, "owner")
    ]


@pytest.mark.django_db
def test_create_api_token_adds_a_membership_to_a_member_of_another_tenant(
    tenant, member, make_tenant
):
    # given
    other = make_tenant("other-002", plan="starter")

    # when
    _issue(other.id, member.email)

    # then
    assert set(Membership.objects.filter(user=member).values_list("tenant_id", flat=True)) == {
        tenant.id,
        other.id,
    }


@pytest.mark.django_db
def test_create_api_token_issues_a_different_token_each_time(tenant):
    # given
    first = _issue(tenant.id, "new@ecomlg.test")

    # when
    second = _issue(tenant.id, "new@ecomlg.test")

    # then
    assert first != second


@pytest.mark.django_db
def test_create_api_token_keeps_earlier_tokens_valid(tenant):
    # given
    first = _issue(tenant.id, "new@ecomlg.test")

    # when
    second = _issue(tenant.id, "new@ecomlg.test")

    # then
    user = User.objects.get(email="new@ecomlg.test")
    assert (
        ApiToken.objects.filter(user=user).count(),
        api_token_user(raw_token=first),
        api_token_user(raw_token=second),
    ) == (2, user, user)


BAD_CREATE_API_TOKEN_ARGS = {
    "missing_tenant": ["--email", "new@ecomlg.test"],
    "missing_email": ["--tenant", "ecomlg-001"],
    "unknown_tenant": ["--tenant", "nobody-999", "--email", "new@ecomlg.test"],
    "empty_email": ["--tenant", "ecomlg-001", "--email", ""],
    "email_without_at": ["--tenant", "ecomlg-001", "--email", "new.ecomlg.test"],
    "email_without_domain": ["--tenant", "ecomlg-001", "--email", "new@"],
    "email_with_space": ["--tenant", "ecomlg-001", "--email", "new agent@ecomlg.test"],
    "email_too_long_for_the_column": [
        *("--tenant", "ecomlg-001", "--email"),
        "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "test",
    ],
    "unknown_role": ["--tenant", "ecomlg-001", "--email", "new@ecomlg.test", "--role", "root"],
    "role_in_capitals": ["--tenant", "ecomlg-001", "--email", "n@ecomlg.test", "--role", "Owner"],
    "staff_with_a_value": ["--tenant", "ecomlg-001", "--email", "n@ecomlg.test", "--staff=yes"],
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args", BAD_CREATE_API_TOKEN_ARGS.values(), ids=BAD_CREATE_API_TOKEN_ARGS.keys()
)
def test_create_api_token_with_a_bad_argument_fails_and_writes_nothing(tenant, args):
    # given
    before = _written()

    # when
    with pytest.raises(CommandError):
        call_command("create_api_token", *args, stdout=StringIO())

    # then
    assert _written() == before


@pytest.mark.django_db
def test_create_api_token_with_an_unknown_tenant_does_not_touch_an_existing_user(member):
    # given
    before = _written()

    # when
    with pytest.raises(CommandError, match="unknown tenant"):
        call_command(
            "create_api_token",
            *("--tenant", "nobody-999", "--email", member.email, "--staff"),
            stdout=StringIO(),
        )

    # then
    member.refresh_from_db()
    assert (_written(), member.is_staff) == (before, False)


# --- revoke_api_token ----------------------------------------------------------------------


@pytest.mark.django_db
def test_revoke_all_revokes_every_active_token_of_the_user(member, token_for):
    # given
    tokens = [token_for(member), token_for(member)]

    # when
    _run("revoke_api_token", "--email", member.email, "--all")

    # then
    assert [api_token_user(raw_token=raw) for raw in tokens] == [None, None]


@pytest.mark.django_db
def test_revoke_all_marks_the_tokens_revoked_without_deleting_them(member, token_for):
    # given
    token_for(member)
    token_for(member)

    # when
    _run("revoke_api_token", "--email", member.email, "--all")

    # then
    assert [token.is_active for token in ApiToken.objects.filter(user=member)] == [False, False]


@pytest.mark.django_db
def test_revoke_all_leaves_other_users_tokens_valid(member, staff, token_for):
    # given
    token_for(member)
    staff_token = token_for(staff)

    # when
    _run("revoke_api_token", "--email", member.email, "--all")

    # then
    assert api_token_user(raw_token=staff_token) == staff


@pytest.mark.django_db
def test_revoke_all_reports_how_many_tokens_it_revoked(member, token_for):
    # given
    token_for(member)
    token_for(member)

    # when
    output = _run("revoke_api_token", "--email", member.email, "--all")

    # then
    assert output.splitlines() == [f"Revoked 2 token(s) of {member.email}."]


@pytest.mark.django_db
def test_revoke_finds_the_user_whatever_the_email_case(member, token_for):
    # given
    raw_token = token_for(member)

    # when
    _run("revoke_api_token", "--email", member.email.upper(), "--all")

    # then
    assert api_token_user(raw_token=raw_token) is None


@pytest.mark.django_db
@pytest.mark.parametrize("length", [6, 12], ids=["shortest_prefix", "full_prefix"])
def test_revoke_by_prefix_revokes_the_matching_token(member, token_for, length):
    # given
    raw_token = token_for(member)

    # when
    _run("revoke_api_token", "--email", member.email, "--token-prefix", raw_token[:length])

    # then
    assert api_token_user(raw_token=raw_token) is None


@pytest.mark.django_db
def test_revoke_by_prefix_leaves_the_users_other_tokens_valid(member, token_for):
    # given
    # (two random 8-character prefixes clash once in 2^48)
    kept, revoked = token_for(member), token_for(member)

    # when
    _run("revoke_api_token", "--email", member.email, "--token-prefix", revoked[:12])

    # then
    assert api_token_user(raw_token=kept) == member


@pytest.mark.django_db
def test_revoke_by_prefix_is_case_sensitive(member):
    # given two tokens whose prefixes differ only in case (tokens are case-sensitive base64)
    ApiToken.objects.create(user=member, prefix="kbz_AbCdEfGh", digest="a" * 64)
    ApiToken.objects.create(user=member, prefix="kbz_abcdefgh", digest="b" * 64)

    # when
    _run("revoke_api_token", "--email", member.email, "--token-prefix", "kbz_abcdefgh")

    # then only the one that starts with exactly these characters is revoked
    assert list(
        ApiToken.objects.filter(user=member, revoked_at__isnull=True).values_list(
            "prefix", flat=True
        )
    ) == ["kbz_AbCdEfGh"]


BAD_REVOKE_ARGS = {
    "missing_email": ["--all"],
    "neither_all_nor_prefix": ["--email", "agent@ecomlg.test"],
    "both_all_and_prefix": ["--email", "agent@ecomlg.test", "--all", "--token-prefix", "kbz_abcd"],
    "prefix_too_short": ["--email", "agent@ecomlg.test", "--token-prefix", "kbz"],
    "prefix_of_only_the_fixed_part": ["--email", "agent@ecomlg.test", "--token-prefix", "kbz_"],
    "empty_prefix": ["--email", "agent@ecomlg.test", "--token-prefix", ""],
    "prefix_too_long": ["--email", "agent@ecomlg.test", "--token-prefix", "kbz_abcdefghi"],
    "unknown_user": ["--email", "nobody@ecomlg.test", "--all"],
    "prefix_matching_nothing": ["--email", "agent@ecomlg.test", "--token-prefix", "kbz_!!!!"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("args", BAD_REVOKE_ARGS.values(), ids=BAD_REVOKE_ARGS.keys())
def test_revoke_with_a_bad_argument_fails_and_revokes_nothing(member, token_for, args):
    # given
    token_for(member)
    before = _written()

    # when
    with pytest.raises(CommandError):
        call_command("revoke_api_token", *args, stdout=StringIO())

    # then
    assert _written() == before


@pytest.mark.django_db
def test_revoke_all_without_an_active_token_fails(member, token_for):
    # given
    token_for(member)
    _run("revoke_api_token", "--email", member.email, "--all")

    # when / then
    with pytest.raises(CommandError, match="no active token"):
        call_command("revoke_api_token", "--email", member.email, "--all", stdout=StringIO())


@pytest.mark.django_db
def test_revoke_by_the_prefix_of_an_already_revoked_token_fails(member, token_for):
    # given
    raw_token = token_for(member)
    _run("revoke_api_token", "--email", member.email, "--token-prefix", raw_token[:12])

    # when / then
    with pytest.raises(CommandError, match="no active token"):
        call_command(
            "revoke_api_token",
            *("--email", member.email, "--token-prefix", raw_token[:12]),
            stdout=StringIO(),
        )


# --- from the command line (see ManageCli) ---------------------------------------------------


@pytest.fixture(scope="module")
def cli_db(manage_cli):
    created = manage_cli("create_tenant", "cli-tenant", "--name", "CLI", "--plan", "pro")
    assert created.returncode == 0, created.stderr
    return manage_cli


def test_cli_create_tenant_missing_name_prints_one_line_and_exits_2(cli_db):
    # given / when
    result = cli_db("create_tenant", "shop-42", "--plan", "pro")

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        ["manage.py create_tenant: error: the following arguments are required: --name"],
    )


def test_cli_create_tenant_nan_budget_prints_one_line_and_exits_2(cli_db):
    # given / when
    result = cli_db(
        "create_tenant", "shop-42", "--name", "S", "--plan", "pro", "--daily-budget", "NaN"
    )

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            "manage.py create_tenant: error: argument --daily-budget: "
            "'NaN' is not a non-negative amount in USD"
        ],
    )


def test_cli_create_tenant_unknown_plan_prints_one_line_and_exits_1(cli_db):
    # given / when
    result = cli_db("create_tenant", "shop-42", "--name", "S", "--plan", "gold")

    # then
    assert (result.returncode, len(result.stderr.splitlines()), result.stderr[:33]) == (
        1,
        1,
        "CommandError: unknown plan 'gold'",
    )


def test_cli_create_tenant_bad_timezone_exits_1_with_one_line(cli_db):
    # given / when
    result = cli_db(
        "create_tenant", "shop-42", "--name", "S", "--plan", "pro", "--timezone", "Mars/X"
    )

    # then
    assert (result.returncode, len(result.stderr.splitlines())) == (1, 1)


def test_cli_create_tenant_refused_writes_no_tenant(cli_db):
    # given
    before = cli_db.count("tenants_tenant")

    # when
    cli_db("create_tenant", "shop-42", "--name", "S", "--plan", "pro", "--timezone", "X")

    # then
    assert cli_db.count("tenants_tenant") == before


def test_cli_create_api_token_invalid_email_prints_one_line_and_exits_1(cli_db):
    # given / when
    result = cli_db("create_api_token", "--tenant", "cli-tenant", "--email", "nope")

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        ["CommandError: 'nope' is not a valid email address"],
    )


def test_cli_create_api_token_prints_the_stored_token_on_its_last_line(cli_db):
    # given / when
    result = cli_db("create_api_token", "--tenant", "cli-tenant", "--email", "cli@ecomlg.test")

    # then the last line is a token whose digest is the one stored
    raw_token = result.stdout.splitlines()[-1]
    digest = hashlib.sha256(raw_token.encode()).hexdigest()
    stored = cli_db.query("SELECT COUNT(*) FROM tenants_apitoken WHERE digest = ?", (digest,))
    assert (result.returncode, stored[0][0]) == (0, 1)


def test_cli_revoke_with_both_all_and_prefix_prints_one_line_and_exits_2(cli_db):
    # given / when
    result = cli_db(
        "revoke_api_token", "--email", "a@b.test", "--all", "--token-prefix", "kbz_abcd"
    )

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            "manage.py revoke_api_token: error: argument --token-prefix: "
            "not allowed with argument --all"
        ],
    )


def test_cli_revoke_unknown_user_prints_one_line_and_exits_1(cli_db):
    # given / when
    result = cli_db("revoke_api_token", "--email", "nobody@ecomlg.test", "--all")

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        ["CommandError: unknown user 'nobody@ecomlg.test'"],
    )
