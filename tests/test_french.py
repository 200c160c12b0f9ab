"""The product in French: the staff console, the usage page, sign-in and the alert emails, as a
French-speaking reader gets them (Accept-Language, the language switcher, the tenant's language).
"""

import html
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from freezegun import freeze_time

from tenants.models import Membership
from usage.recording import UsageEntry, usage_record

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"  # French typography: before : ; ? ! % and $, and Django's thousands separator
APOS = "\u2019"  # the typographic apostrophe of the French catalogue
FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr"}
NOON_IN_PARIS = "2026-03-10 11:00:00"  # UTC (Paris is UTC+1 in March): the tenant's 10 March


def _spend(tenant, usd: str, *, tokens: int = 0, status: str = "success", **fields):
    usage_record(
        entry=UsageEntry(
            tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
            status=status, prompt_tokens=tokens, cost_usd=Decimal(usd), **fields,
        )
    )  # fmt: skip


def _text(page: str) -> str:
    """The page's text: tags dropped, entities decoded, runs of blanks (not NBSP) made one."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _field(page: str, name: str) -> str:
    """The text of the usage card's element data-field=name."""
    match = re.search(rf'data-field="{name}"[^>]*>([^<]*)<', page)
    assert match, f"no data-field={name}"
    return html.unescape(match.group(1)).strip()


def _lang(page: str) -> str:
    return re.search(r'<html\b[^>]*\blang="([^"]+)"', page).group(1)


@pytest.fixture
def console(client, make_user):
    client.force_login(make_user("root@keybuzz.test", is_staff=True, is_superuser=True))
    return client


# The staff console


@freeze_time(NOON_IN_PARIS)
def test_the_console_dashboard_is_in_french(console, tenant):
    _spend(tenant, "1.5")
    page = console.get("/staff/", **FRENCH).content.decode()
    text = _text(page)
    assert _lang(page) == "fr"
    assert "<title>Tableau de bord | Console KeyBuzz AI</title>" in page
    for heading in (
        f"La plateforme aujourd{APOS}hui",
        "Coupe-circuit IA global",
        "Désactivé — IA en service",
        "Dépenses du jour (10/03/2026)",
        f"Dernières 24{NBSP}heures",
        f"Clients ayant le plus dépensé aujourd{APOS}hui",
        "Client Forfait Dépenses du jour Budget % du budget",
        "Clients bloqués en ce moment",
    ):
        assert heading in text
    assert "Top tenants by spend today" not in text and "Dashboard" not in text


def test_the_tenant_list_is_in_french(console, tenant):
    text = _text(console.get("/staff/tenants/tenant/", **FRENCH).content.decode())
    columns = "ID Nom Forfait Modèle IA active Dépenses du jour (USD) Budget du jour (USD)"
    assert f"{columns} Utilisé (%) Dernier appel" in text
    assert f"Par budget utilisé aujourd{APOS}hui Tout 80{NBSP}% ou plus 100{NBSP}% ou plus" in text
    assert f"Désactiver l{APOS}IA (coupe-circuit IA activé)" in text
    assert "spend today" not in text.lower() and "kill switch" not in text.lower()


def test_a_tenant_page_is_in_french(console, tenant):
    text = _text(console.get(f"/staff/tenants/tenant/{tenant.pk}/change/", **FRENCH).text)
    for label in (
        "Modification de client",  # Django's own "Change %s", with our model's name
        f"Accorder une recharge d{APOS}un jour",
        f"Fuseau horaire{NBSP}:",
        "Forfait et budget",
        f"Budget quotidien spécifique (USD){NBSP}:",
        f"Vérification du budget{NBSP}:",
        "Alertes de coût",
        f"Pourcentages d{APOS}alerte{NBSP}:",
        "Coupe-circuit IA",
        f"Motif du changement{NBSP}:",
        "Point de terminaison webhook",
    ):
        assert label in text
    assert f"Activé{NBSP}: IA coupée pour ce client." in text


# The tenant usage page


@freeze_time(NOON_IN_PARIS)
def test_the_usage_page_is_in_french_with_french_numbers(client, member, tenant):
    # given a call of 1.50 USD and 12,345 tokens on a 10 USD budget
    _spend(tenant, "1.5", tokens=12345)
    client.force_login(member)
    # when a member reads the page in French
    page = client.get("/usage/", **FRENCH).content.decode()
    text = _text(page)
    # then the document, its labels, its dates and its numbers are French
    assert _lang(page) == "fr"
    assert "<title>Consommation IA · ecomlg-001 · KeyBuzz AI</title>" in page
    for label in (
        f"Aujourd{APOS}hui 10 mars 2026",
        "Forfait Pro",
        "Les suggestions IA sont disponibles.",
        "Appels 1 Jetons",
        "Budget quotidien utilisé",
        "Dépensé",
        "Restant",
        "Réinitialisation quotidienne",
        "(11 mars 2026 à 00:00, fuseau Europe/Paris)",
        "7 derniers jours",
        "Date Appels Bloqués Erreurs Jetons Coût",
        "Suggestions de réponse",
    ):
        assert label in text
    money = f"{NBSP}${NBSP}US"
    assert _field(page, "tokens") == f"12{NBSP}345"
    assert _field(page, "cost") == f"1,50{money}"
    assert _field(page, "daily") == f"10,00{money}"
    assert _field(page, "remaining") == f"8,50{money}"
    assert _field(page, "percent") == f"15{NBSP}%"
    assert _field(page, "reset-in") == f"dans 12{NBSP}h{NBSP}0{NBSP}min"
    summary = f"Du 4 mars 2026 au 10 mars 2026{NBSP}: 1 requête (réussie{NBSP}: 1,"
    assert summary in text
    # the live script gets the same formats
    assert f'data-money-pattern="{{n}}{money}"' in page
    assert f'data-percent-pattern="{{n}}{NBSP}%"' in page


def test_the_login_page_is_in_french(client):
    page = client.get("/accounts/login/", **FRENCH).content.decode()
    text = _text(page)
    assert _lang(page) == "fr"
    assert "<title>Se connecter · KeyBuzz AI</title>" in page
    assert "<h1>Connexion à KeyBuzz AI</h1>" in page
    assert '<label for="id_username">Adresse e-mail</label>' in page
    assert '<label for="id_password">Mot de passe</label>' in page
    assert f"Mot de passe oublié{NBSP}?" in text
    assert "Langue English Français Appliquer" in text


def test_a_failed_sign_in_and_the_reset_email_are_in_french(client, make_user):
    make_user("agent@shop.test", password="a-long-agent-password-1")
    failed = client.post(
        "/accounts/login/", {"username": "agent@shop.test", "password": "wrong"}, **FRENCH
    )
    assert "ne correspondent pas. Veuillez réessayer." in _text(failed.text)
    client.post("/accounts/password_reset/", {"email": "agent@shop.test"}, **FRENCH)
    (message,) = mail.outbox
    assert message.subject == "Réinitialisation de votre mot de passe KeyBuzz AI"
    assert message.body.startswith("Bonjour,\n\nQuelqu")
    assert f"ouvrez ce lien{NBSP}:" in message.body
    assert f"L{APOS}équipe KeyBuzz AI" in message.body


def test_the_language_switcher_switches_the_session_to_french(client, member, tenant):
    client.force_login(member)
    assert _lang(client.get("/usage/").text) == "en"
    # when the member picks French in the switcher
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/usage/?days=30"})
    # then it comes back to the page, and every page is French from then on
    assert (response.status_code, response["Location"]) == (302, "/usage/?days=30")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    page = client.get("/usage/?days=30").text
    assert _lang(page) == "fr"
    assert "30 derniers jours" in _text(page)
    # and back to English
    client.post("/i18n/setlang/", {"language": "en", "next": "/usage/"})
    assert "Last 7 days" in _text(client.get("/usage/").text)


# Alert emails


@pytest.fixture
def french_shop(make_tenant, make_user, settings):
    """A French-speaking tenant with an owner, and one staff address for the staff copy."""
    settings.KEYBUZZ = {**settings.KEYBUZZ, "ALERT_STAFF_EMAILS": ["oncall@keybuzz.test"]}
    shop = make_tenant("boutique-lyon", name="Boutique Lyon", language="fr",
                       timezone="Europe/Paris")  # fmt: skip
    make_user("owner@boutique.test", tenant=shop, role=Membership.Role.OWNER)
    return shop


def _deliver() -> dict[tuple, mail.EmailMessage]:
    call_command("deliver_alerts", "--once", stdout=StringIO())
    return {tuple(message.to): message for message in mail.outbox}


@freeze_time(NOON_IN_PARIS)
def test_a_french_tenants_alert_email_is_in_french(french_shop):
    # when the tenant passes 80 % of its 10 USD budget and the alert is delivered
    _spend(french_shop, "8.5")
    emails = _deliver()
    # then its owner's copy is French, amounts and date included
    message = emails[("owner@boutique.test",)]
    assert message.extra_headers["Content-Language"] == "fr"
    # (the subject's blanks are normalized: its no-break spaces become spaces)
    assert " ".join(message.subject.split()) == (
        "[KeyBuzz AI] Boutique Lyon a utilisé 80 % de son budget IA quotidien"
    )
    event_id = message.extra_headers["X-KeyBuzz-Event-Id"]
    assert message.body.startswith("Bonjour,\n\n")
    for line in (
        f"Boutique Lyon (boutique-lyon) a utilisé 80{NBSP}% de son budget IA quotidien pour le "
        "10 mars 2026.",
        f"Déjà dépensé{NBSP}: 8,50 USD",
        f"Budget quotidien, recharges comprises{NBSP}: 10,00 USD",
        "Pour augmenter le budget quotidien, changez de forfait ou demandez une recharge "
        f"d{APOS}un jour au support KeyBuzz.",
        f"Alerte {event_id}{NBSP}: envoyée une seule fois pour ce seuil et ce jour.",
    ):
        assert line in message.body
    # and the staff copy stays English
    staff_copy = emails[("oncall@keybuzz.test",)]
    assert staff_copy.subject == "[KeyBuzz AI] Boutique Lyon has used 80% of its daily AI budget"
    assert staff_copy.body.startswith("KeyBuzz staff copy.")


@freeze_time(NOON_IN_PARIS)
def test_a_french_tenants_budget_reached_and_blocked_emails_are_in_french(french_shop):
    _spend(french_shop, "10")
    _spend(french_shop, "0", status="blocked", error_code="budget_exceeded")
    _deliver()
    french = [message for message in mail.outbox if message.to == ["owner@boutique.test"]]
    subjects = sorted(" ".join(message.subject.split()) for message in french)
    assert subjects == [
        "[KeyBuzz AI] Boutique Lyon : requêtes IA refusées par le budget quotidien",
        "[KeyBuzz AI] Boutique Lyon a atteint son budget IA quotidien",
        "[KeyBuzz AI] Boutique Lyon a utilisé 80 % de son budget IA quotidien",
    ]
    bodies = "\n".join(message.body for message in french)
    assert (
        f"a atteint son budget IA quotidien pour le 10 mars 2026{NBSP}: les nouvelles "
        f"suggestions IA seront refusées jusqu{APOS}à la réinitialisation du budget à minuit"
    ) in bodies
    assert (
        "Des requêtes IA de Boutique Lyon (boutique-lyon) ont été refusées le 10 mars 2026, car "
        "elles auraient dépassé son budget quotidien."
    ) in bodies
