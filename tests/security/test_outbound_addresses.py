"""The outbound address rule (CONTRACT §9, keybuzz/outbound.py): alert webhooks and job callbacks
reach public addresses only, checked on the address actually connected to, redirects not followed.

Nothing here uses real DNS: the resolver is replaced by a table, and IP literals are answered
without a lookup. Nothing is sent anywhere but to loopback receivers: the tests of the check fail
if a connection is even attempted, and public addresses are only ever checked.
"""

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from urllib.parse import urlsplit

import pytest
import requests
from django.core.exceptions import ValidationError
from django.core.management import call_command

from alerts.exceptions import DeliveryFailed
from alerts.models import Alert, AlertDelivery, WebhookEndpoint
from alerts.webhooks import webhook_send
from keybuzz.outbound import (
    OutboundAddressRefused,
    outbound_addresses,
    outbound_post,
    outbound_url_check,
)
from tests.alerts.conftest import spend
from tests.fakes.webhook_receiver import WebhookReceiver

REAL_GETADDRINFO = socket.getaddrinfo

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.168.1.1", "a private address"),
    ("100.64.0.1", "a private address"),  # carrier-grade NAT
    ("169.254.169.254", "a link-local address"),  # cloud metadata
    ("fe80::1", "a link-local address"),
    ("fc00::1", "a unique-local address"),
    ("fd12:3456::1", "a unique-local address"),
    ("0.0.0.0", "an unspecified address"),  # noqa: S104 (an address refused, not bound)
    ("::", "an unspecified address"),
    ("224.0.0.1", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    # IPv6 forms carrying an IPv4 address are judged by it.
    ("::ffff:127.0.0.1", "a loopback address"),
    ("::ffff:10.0.0.1", "a private address"),
    ("::ffff:169.254.169.254", "a link-local address"),
    ("::127.0.0.1", "a loopback address"),  # IPv4-compatible
    ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 of 169.254.169.254
    ("2002:a00:1::", "a private address"),  # 6to4 of 10.0.0.1
]
PUBLIC = ["93.184.215.14", "2606:2800:21f:cb07:6820:80:9b2:7b6b", "::ffff:93.184.215.14"]


class FakeDns:
    """socket.getaddrinfo answering names from a table and IP literals without a lookup (any
    other name does not resolve); it records every host it is asked about."""

    def __init__(self):
        self.answers: dict[str, list[tuple[str, ...]]] = {}
        self.asked: list[str] = []

    def add(self, name: str, *answers: tuple[str, ...]) -> None:
        """`name` resolves to answers[0] the first time, answers[1] the next, and so on; the last
        answer stays."""
        self.answers[name] = list(answers)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        self.asked.append(host)
        if host not in self.answers:
            flags |= socket.AI_NUMERICHOST  # never a DNS query
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        queue = self.answers[host]
        return [_entry(address, int(port)) for address in (queue.pop(0) if queue[1:] else queue[0])]


def _entry(address: str, port: int) -> tuple:
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.fixture
def rule_closed(settings):
    """The production default (the test settings open the rule for loopback receivers)."""
    settings.KEYBUZZ = {**settings.KEYBUZZ, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False}


@pytest.fixture
def no_connection(monkeypatch):
    """Fails the test if any outbound connection is attempted."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        pytest.fail(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield
    assert attempts == []


@pytest.fixture
def connections(monkeypatch) -> list:
    """The addresses sockets connect to (the connections still happen)."""
    seen = []
    connect = socket.socket.connect

    def recorded(sock, address):
        seen.append(address[:2])
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recorded)
    return seen


@pytest.fixture
def redirecting_receiver():
    """A loopback server answering every POST with a 302 to another of its paths; yields its
    URL and the paths it was asked for."""
    paths = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            paths.append(self.path)
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", paths
    server.shutdown()
    server.server_close()


def _url(address: str) -> str:
    return f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook"


# --- the check, rule closed: nothing is ever connected to ---


@pytest.mark.parametrize(("address", "refusal"), REFUSED)
def test_a_non_public_address_is_refused_with_its_class(
    address, refusal, rule_closed, no_connection
):
    with pytest.raises(OutboundAddressRefused) as refused:
        outbound_url_check(_url(address))
    assert str(refused.value).endswith(refusal)


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.0.0.1"])
def test_odd_spellings_of_loopback_are_judged_by_the_address_they_mean(
    host, rule_closed, no_connection
):
    with pytest.raises(OutboundAddressRefused) as refused:
        outbound_url_check(f"http://{host}/hook")
    assert str(refused.value) == f"{host} resolves to 127.0.0.1, a loopback address"


def test_a_name_resolving_to_a_private_address_is_refused_naming_both(
    dns, rule_closed, no_connection
):
    dns.add("callback.example", ("10.0.0.5",))
    with pytest.raises(OutboundAddressRefused) as refused:
        outbound_url_check("https://callback.example/hook?token=secret")
    assert str(refused.value) == "callback.example resolves to 10.0.0.5, a private address"


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    dns, rule_closed, no_connection
):
    dns.add("hooks.example.com", ("93.184.215.14", "169.254.169.254"))
    with pytest.raises(OutboundAddressRefused, match=r"169\.254\.169\.254, a link-local address$"):
        outbound_url_check("https://hooks.example.com/kbz")


def test_a_name_that_does_not_resolve_is_refused(rule_closed, no_connection):
    with pytest.raises(OutboundAddressRefused, match=r"^hooks\.nowhere\.test does not resolve$"):
        outbound_url_check("https://hooks.nowhere.test/kbz")


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/x", "file:///etc/passwd", "http:///hook", "http://h:99999/"]
)
def test_a_url_that_is_not_http_with_a_host_and_port_is_refused(url, rule_closed, no_connection):
    with pytest.raises(OutboundAddressRefused, match=r"^the URL"):
        outbound_url_check(url)


@pytest.mark.parametrize("address", PUBLIC)
def test_a_public_address_passes_the_check(address, rule_closed, no_connection):
    assert outbound_addresses(_url(address)) == [ipaddress.ip_address(address)]


def test_a_name_resolving_to_public_addresses_passes_with_all_of_them(
    dns, rule_closed, no_connection
):
    dns.add("hooks.example.com", tuple(PUBLIC[:2]))
    addresses = outbound_addresses("https://hooks.example.com/kbz")
    assert addresses == [ipaddress.ip_address(address) for address in PUBLIC[:2]]


# --- rule open: loopback is reachable, through the checked address only ---


def test_with_the_rule_open_loopback_passes_the_check(no_connection):
    outbound_url_check("http://127.0.0.1/hook")
    assert outbound_addresses("http://[::1]:8080/") == [ipaddress.ip_address("::1")]


def test_a_post_reaches_a_loopback_receiver_with_the_urls_host_header():
    with WebhookReceiver() as receiver:
        response = outbound_post(receiver.url, data=b'{"ok":1}', headers={"X-Test": "1"}, timeout=5)
        with response:
            assert response.status_code == 200
    (hook,) = receiver.requests
    port = urlsplit(receiver.url).port
    assert (hook.path, hook.body) == ("/hooks/keybuzz", b'{"ok":1}')
    assert hook.headers["host"] == f"127.0.0.1:{port}"
    assert hook.headers["x-test"] == "1"


def test_a_post_connects_to_the_checked_address_without_resolving_the_name_again(dns, connections):
    with WebhookReceiver() as receiver:
        port = urlsplit(receiver.url).port
        # given a name whose next answer would be another address (nothing listens there)
        dns.add("localhost", ("127.0.0.1",), ("127.0.0.2",))
        # when a POST goes to it
        response = outbound_post(
            f"http://localhost:{port}/hooks/keybuzz", data=b"{}", headers={}, timeout=5
        )
        with response:
            assert response.status_code == 200
    # then the name was looked up once; the connection was to the checked address (its literal
    # answered without a lookup), and the Host header kept the name
    assert dns.asked == ["localhost", "127.0.0.1"]
    assert connections == [("127.0.0.1", port)]
    (hook,) = receiver.requests
    assert hook.headers["host"] == f"localhost:{port}"


def test_a_redirect_is_returned_not_followed(redirecting_receiver):
    url, paths = redirecting_receiver
    response = outbound_post(url, data=b"{}", headers={}, timeout=5)
    with response:
        assert response.status_code == 302
        assert response.headers["Location"] == "/elsewhere"
    assert paths == ["/hook"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for hooks.pinned.test and its key (files), trusted below."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=hooks.pinned.test", "-addext", "subjectAltName=DNS:hooks.pinned.test",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate, monkeypatch):
    """A loopback HTTPS server with that certificate, trusted as requests' CA bundle; yields its
    port and what it saw: the TLS server names asked for and the Host headers."""
    cert, key = certificate
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", cert)
    seen = {"server_names": [], "hosts": []}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen["server_names"].append(name)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["hosts"].append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_https_to_the_checked_address_names_the_urls_host_for_tls(dns, connections, tls_receiver):
    port, seen = tls_receiver
    dns.add("hooks.pinned.test", ("127.0.0.1",))
    # when a POST goes to a name pinned to a loopback address
    url = f"https://hooks.pinned.test:{port}/hook"
    response = outbound_post(url, data=b"{}", headers={}, timeout=5)
    with response:
        assert response.status_code == 200
    # then it connected to the address, and asked for and verified the name
    assert connections == [("127.0.0.1", port)]
    assert seen == {"server_names": ["hooks.pinned.test"], "hosts": [f"hooks.pinned.test:{port}"]}


def test_https_refuses_a_certificate_for_another_name_than_the_urls(dns, tls_receiver):
    port, seen = tls_receiver
    dns.add("hooks.other.test", ("127.0.0.1",))
    with pytest.raises(requests.exceptions.SSLError, match=r"hooks\.other\.test"):
        outbound_post(f"https://hooks.other.test:{port}/hook", data=b"{}", headers={}, timeout=5)
    assert seen["hosts"] == []


# --- alert webhooks, rule closed ---


@pytest.fixture
def alert(tenant) -> Alert:
    return Alert.objects.create(
        key=f"{tenant.id}:2026-03-10:budget_percent:80", kind=Alert.Kind.BUDGET_PERCENT,
        tenant=tenant, day=date(2026, 3, 10), threshold=Decimal(80), spend_usd=Decimal("8.5"),
        budget_usd=Decimal(10),
    )  # fmt: skip


def test_a_webhook_to_loopback_fails_without_a_connection(
    tenant, alert, rule_closed, no_connection
):
    with WebhookReceiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(tenant=tenant, url=receiver.url)
        with pytest.raises(DeliveryFailed, match=r"^127\.0\.0\.1 is a loopback address$"):
            webhook_send(endpoint=endpoint, alert=alert)
    assert receiver.requests == []


def test_a_delivery_whose_name_now_resolves_to_a_private_address_fails_and_is_retried(
    dns, tenant, rule_closed, no_connection
):
    # given an endpoint saved while its name was public, that now resolves to a private address
    dns.add("hooks.example.com", ("93.184.215.14",), ("10.0.0.5",))
    endpoint = WebhookEndpoint(tenant=tenant, url="https://hooks.example.com/kbz")
    endpoint.full_clean()
    endpoint.save()
    # when an alert is delivered
    spend(tenant, "8.5")
    call_command("deliver_alerts", "--once", stdout=StringIO())
    # then the webhook attempt failed with the reason, and stays pending for a retry
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "hooks.example.com resolves to 10.0.0.5, a private address"


# --- saving an endpoint, rule closed ---


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://127.0.0.1/"])
def test_an_endpoint_url_to_a_non_public_address_is_refused_on_saving(
    url, tenant, rule_closed, no_connection
):
    endpoint = WebhookEndpoint(tenant=tenant, url=url)
    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()
    assert list(refused.value.message_dict) == ["url"]


def test_the_console_shows_the_refusal_under_the_url(
    client, make_user, tenant, rule_closed, no_connection
):
    client.force_login(make_user("root@keybuzz.test", is_staff=True, is_superuser=True))
    response = client.post(
        "/staff/alerts/webhookendpoint/add/",
        {"tenant": tenant.id, "url": "http://10.0.0.1/hook", "is_active": "on"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == ["10.0.0.1 is a private address"]
    assert not WebhookEndpoint.objects.exists()
