"""The caller's address and scheme behind reverse proxies: X-Forwarded-* believed only from GRIDSVC_TRUSTED_PROXIES."""
from __future__ import annotations

import functools
import ipaddress


@functools.lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple:
    """'10.0.0.1, 192.168.8.0/24' -> the networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in (text or "").split(",") if part.strip())


def _address(text: str):
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; compare them as the IPv4 address.
    return getattr(address, "ipv4_mapped", None) or address


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR and wsgi.url_scheme from a trusted proxy's X-Forwarded-For / -Proto.

    Werkzeug's ProxyFix trusts a fixed number of hops from anyone; here the headers count only when
    the connection itself comes from a listed proxy, and X-Forwarded-For is read from the right,
    skipping further trusted proxies, so a client cannot choose its own address by sending one.
    Without trusted proxies every volunteer behind the proxy would share one throttle counter; with
    the header believed from anyone, a client could dodge the throttle.
    """

    def __init__(self, wsgi_app, settings):
        self.wsgi_app = wsgi_app
        self.settings = settings  # the app's config: TRUSTED_PROXIES is read per request

    def __call__(self, environ, start_response):
        networks = parse_networks(self.settings.get("TRUSTED_PROXIES", ""))

        def trusted(address) -> bool:
            return address is not None and any(address in network for network in networks)

        if networks and trusted(_address(environ.get("REMOTE_ADDR", ""))):
            client = environ["REMOTE_ADDR"]
            for hop in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
                address = _address(hop)
                if address is None:
                    break  # garbage in the chain: stop at the last address a trusted proxy vouched for
                client = str(address)
                if not trusted(address):
                    break
            environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.wsgi_app(environ, start_response)
