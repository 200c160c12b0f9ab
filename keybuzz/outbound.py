"""Outbound addresses (CONTRACT §9): the URLs the platform calls on a tenant's behalf (alert
webhooks, job callbacks) must reach public addresses only.

A tenant picks the URL. Without this rule it could make the platform call the cloud's metadata
service, the database or an admin port on the private network. So every address the host name
resolves to is checked, and the POST then connects to a checked address itself, without looking
the name up again: a name that resolves differently between the check and the connection (DNS
rebinding) cannot slip another address in. Redirects are not followed, and no proxy is used (a
proxy would resolve the name itself, past the check). `WEBHOOK_ALLOW_PRIVATE_ADDRESSES` opens
the rule for development and tests.
"""

import ipaddress
import socket
from collections.abc import Mapping
from functools import partial
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class OutboundAddressRefused(Exception):
    """A URL the platform will not call: not http or https, without a host, a name that does
    not resolve, or an address that is not public. The message says which, in one line."""


def address_refusal(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address ("a loopback address", …), or None when it is.

    An IPv6 address that carries an IPv4 one (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64
    64:ff9b::/96, 6to4 2002::/16) reaches that IPv4 address, so it is judged by it.
    """
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return address_refusal(inner)
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip in UNIQUE_LOCAL:
        return "a unique-local address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    # The rest Python does not call global: RFC 1918, carrier-grade NAT (100.64/10), "this
    # network" (0/8), benchmarking and documentation ranges, Teredo…
    if ip.is_private or not ip.is_global:
        return "a private address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    # :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def outbound_addresses(url: str) -> list[IPAddress]:
    """The addresses `url`'s host resolves to, in the resolver's order, each one checked; or
    OutboundAddressRefused if any one of them is not public (unless the rule is open).

    IP literals go through the resolver too, so odd spellings (http://2130706433/,
    http://0177.0.0.1/, http://[::ffff:127.0.0.1]/) are judged by the address they mean.
    """
    host, port = _host_and_port(url)
    addresses = _resolve(host, port)
    if not settings.KEYBUZZ["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]:
        for ip in addresses:
            if (reason := address_refusal(ip)) is not None:
                raise OutboundAddressRefused(_refusal_message(host, ip, reason))
    return addresses


def outbound_url_check(url: str) -> None:
    """Raise OutboundAddressRefused for a URL outbound_post would refuse now: the check made
    where a URL is saved or a job enqueued. Each delivery checks again, since what a name
    resolves to can change.

    With WEBHOOK_ALLOW_PRIVATE_ADDRESSES on, no address is refused, so the name is not looked
    up either: a development host need not resolve where the URL is entered.
    """
    if settings.KEYBUZZ["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]:
        _host_and_port(url)
    else:
        outbound_addresses(url)


def outbound_post(
    url: str, *, data: bytes, headers: Mapping[str, str], timeout: float
) -> requests.Response:
    """POST to `url`, connecting only to the addresses outbound_addresses checked.

    Raises OutboundAddressRefused (nothing sent) or a requests.RequestException. The checked
    addresses are tried in the resolver's order until one accepts the connection, as a plain
    connection would; the URL's host stays the Host header, the TLS server name and the name the
    certificate must match. A 3xx is returned as it is, never followed. The body is not read
    (stream=True): the caller closes the response.
    """
    addresses = outbound_addresses(url)
    with requests.Session() as session:
        # No proxy, .netrc or CA bundle from the environment: a proxy would resolve the name
        # itself and connect wherever that leads.
        session.trust_env = False
        adapter = _PinnedAdapter(addresses=addresses)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # Closing the session (on leaving the block) drops its idle connections only; the
        # response's own connection is closed when the caller closes the response.
        return session.post(
            url, data=data, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        )


def _host_and_port(url: str) -> tuple[str, int]:
    """The host to resolve and the port, or OutboundAddressRefused. The URL itself is not
    quoted in the message: its query may carry a token."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise OutboundAddressRefused("the URL is not an http or https URL")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as error:
        raise OutboundAddressRefused("the URL's port is not a port number") from error
    if not parts.hostname:
        raise OutboundAddressRefused("the URL has no host")
    return parts.hostname, port


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundAddressRefused(f"{host} does not resolve") from error
    addresses = []
    for family, _type, _proto, _canonname, sockaddr in answers:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(sockaddr[0])
            if ip not in addresses:
                addresses.append(ip)
    if not addresses:
        raise OutboundAddressRefused(f"{host} does not resolve")
    return addresses


def _refusal_message(host: str, ip: IPAddress, reason: str) -> str:
    """The refusal in one line, naming the host, and the address too when the host is a name."""
    try:
        literal = ipaddress.ip_address(host) == ip
    except ValueError:
        literal = False
    return f"{host} is {reason}" if literal else f"{host} resolves to {ip}, {reason}"


class _PinnedConnection:
    """A urllib3 connection that connects to the checked addresses instead of resolving its
    host, which it keeps for the Host header, the TLS server name and the certificate check."""

    def __init__(self, *args, pinned_addresses: list[IPAddress], **kwargs):
        super().__init__(*args, **kwargs)
        self.pinned_addresses = pinned_addresses

    def _new_conn(self) -> socket.socket:
        failure = None
        for ip in self.pinned_addresses:
            try:
                # An IP literal: the resolver answers it without any lookup.
                return connection.create_connection(
                    (str(ip), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                failure = ConnectTimeoutError(
                    self, f"Connection to {self.host} ({ip}) timed out: {error}"
                )
            except OSError as error:
                failure = NewConnectionError(
                    self, f"Failed to establish a new connection to {self.host} ({ip}): {error}"
                )
        raise failure


class _PinnedHTTPConnection(_PinnedConnection, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnection, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedAdapter(HTTPAdapter):
    """requests' adapter whose pools open pinned connections; one per POST, since the pins
    belong to that POST's URL."""

    def __init__(self, *, addresses: list[IPAddress]):
        self.addresses = addresses  # before HTTPAdapter's __init__, which builds the pools
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        # The pool's extra keyword arguments reach each connection it opens.
        self.poolmanager.pool_classes_by_scheme = {
            "http": partial(_PinnedHTTPPool, pinned_addresses=self.addresses),
            "https": partial(_PinnedHTTPSPool, pinned_addresses=self.addresses),
        }
