"""Where webhooks may be sent: the one target policy, shared by `webhook add` and the sender.

A workspace admin chooses webhook URLs; the operator chooses the network they may reach. So:

- `https://` only, no `user:password@` part, no zone ids, a non-empty host;
- the host's addresses must be public: loopback, private, carrier-grade NAT, link-local,
  unique-local, site-local, multicast, unspecified, reserved and documentation ranges are refused,
  also when embedded in IPv6 (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo);
- numeric IPv4 spellings (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`) are read the way a
  resolver reads them, then judged like any address; `localhost` and `*.localhost` are refused by
  name;
- the operator's allow-list (`SESSIONBOT_WEBHOOK_ALLOW`: host names, addresses, CIDRs) admits
  more: an allow-listed name is trusted whatever it resolves to, an address inside an
  allow-listed network is accepted for any host, and `http://` is accepted when the URL's own
  host is allow-listed (a local receiver in development).

`check_url` is the static part (no network); `check_address` judges one resolved address and is
what the sender's resolver calls at connect time, so a DNS answer that changes after `add`
cannot get past it. Reasons are short and name no internal detail beyond what the admin typed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core.errors import UsageError

_log = logging.getLogger(__name__)

USAGE = "/session webhook add <https-url> [events…]"
RESOLVE_SECONDS = 5.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AddressResolver = Callable[[str], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


class WebhookTargetRefused(UsageError):
    """A webhook URL (or the address it resolves to) that the target policy refuses."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Webhook URL refused: {reason}.", usage=USAGE)
        self.reason = reason


def refused_address(address: Address) -> str | None:
    """Why `address` may not be reached (None: it is public)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded:
            return next(filter(None, map(refused_address, embedded)), None)
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        if address.is_site_local:
            return "a site-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private or not address.is_global or address.is_reserved:
        return "a private or reserved address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the relay server and the client behind it
    if address in _NAT64 or (int(address) >> 32 == 0 and int(address) > 1):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]  # NAT64, or ::a.b.c.d
    return []


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a resolver would read from a numeric host (`2130706433`, `0x7f.1`, …)."""
    labels = host.split(".")
    if not all(_NUMERIC_LABEL.match(label) for label in labels):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise WebhookTargetRefused("the host is a malformed numeric address") from None


def parse_host(host: str) -> tuple[str, Address | None]:
    """The host lower-cased without a trailing dot, and its address if it is a literal one."""
    name = host.strip().lower().rstrip(".")
    if "%" in name:
        raise WebhookTargetRefused("IPv6 zone ids are not allowed")
    if not name.isascii() and ":" not in name:
        try:  # the form a client puts on the wire: `ｌｏｃａｌｈｏｓｔ` is `localhost`
            name = name.encode("idna").decode("ascii").rstrip(".")
        except UnicodeError:
            raise WebhookTargetRefused("the host is not a valid name") from None
    try:
        return name, ipaddress.ip_address(name)
    except ValueError:
        return name, numeric_ipv4(name)


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """The operator's allow-list and (in the running bot) a resolver for checks at `add`."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    resolve: AddressResolver | None = field(default=None, compare=False)

    @classmethod
    def parse(
        cls, entries: Iterable[str], *, resolve: AddressResolver | None = None
    ) -> WebhookPolicy:
        """Host names, addresses and CIDRs (raises ValueError naming a bad entry)."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in entries:
            text = entry.strip().lower().strip("[]")
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if "/" in text or not re.fullmatch(r"[a-z0-9_.-]+", text):
                raise ValueError(f"not a host name, address or CIDR: {entry!r}")
            hosts.add(text.rstrip("."))
        return cls(frozenset(hosts), tuple(networks), resolve)

    def host_allowed(self, name: str, address: Address | None) -> bool:
        """Whether the operator allow-listed this URL host itself."""
        return name in self.hosts or (address is not None and self._in_networks(address))

    def check_address(self, host: str, address: str) -> str | None:
        """Why a resolved `address` of `host` may not be reached (None: it may)."""
        name, _ = parse_host(host)
        if name in self.hosts:
            return None
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "an unreadable address"
        if self._in_networks(parsed):
            return None
        return refused_address(parsed)

    def check_url(self, url: str) -> str:
        """The URL's host if the static rules accept it; else raises WebhookTargetRefused."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise WebhookTargetRefused("it is not a valid URL") from None
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise WebhookTargetRefused("URLs with a user name or password are not allowed")
        if not parts.hostname:
            raise WebhookTargetRefused("the URL has no host")
        name, address = parse_host(parts.hostname)
        allowed = self.host_allowed(name, address)
        scheme = parts.scheme.lower()
        if scheme != "https" and not (scheme == "http" and allowed):
            raise WebhookTargetRefused("only https:// URLs are allowed")
        if port == 0:
            raise WebhookTargetRefused("port 0 is not a valid port")
        if allowed:
            return name
        if name == "localhost" or name.endswith(".localhost"):
            raise WebhookTargetRefused("the host is a loopback name")
        if address is not None:
            reason = refused_address(address)
            if reason is not None:
                raise WebhookTargetRefused(f"the host is {reason}")
        return name

    async def check_target(self, url: str) -> None:
        """`check_url`, then (with a resolver) the addresses the host resolves to now.

        A name that does not resolve is accepted: the sender checks again at each connection.
        """
        host = self.check_url(url)
        if self.resolve is None or parse_host(host)[1] is not None:
            return
        try:
            addresses = await asyncio.wait_for(self.resolve(host), RESOLVE_SECONDS)
        except (OSError, TimeoutError, UnicodeError):
            _log.info("webhook host did not resolve at add; checked again when delivering")
            return
        for address in addresses:
            reason = self.check_address(host, address)
            if reason is not None:
                raise WebhookTargetRefused(f"the host resolves to {reason}")

    def violation(self, url: str) -> str | None:
        """Why an existing subscription's URL breaks the static rules (None: it does not)."""
        try:
            self.check_url(url)
        except WebhookTargetRefused as exc:
            return exc.reason
        return None

    def _in_networks(self, address: Address) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


async def system_addresses(host: str) -> list[str]:
    """The addresses the system resolver gives for `host` (what `add` checks in the bot)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
