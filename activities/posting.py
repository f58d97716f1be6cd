"""What every push shares: the send error, and an HTTP POST with its errors sorted into permanent
and transient (webhooks and group robots, `activities.sending` and `activities.robots`)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

DELIVERY_HEADER = "X-Duban-Delivery"
"""Every push's delivery id (the same on every attempt), for a receiver to deduplicate on."""


class SendError(Exception):
    """A send that did not succeed: `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def placeholder(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".invalid")


def http_url(address: str, what: str) -> httpx.URL:
    """The address as an http(s) URL; a bad or placeholder one is a permanent error."""
    try:
        url = httpx.URL(address)
    except httpx.InvalidURL as e:
        raise SendError(f"bad {what} URL {address!r}: {e}", permanent=True) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise SendError(f"bad {what} URL {address!r}: not http(s)", permanent=True)
    if placeholder(url.host):
        raise SendError(
            f"placeholder {what} {address!r} (the reserved .invalid domain): fill in the contacts file",
            permanent=True,
        )
    return url


async def post(
    http: httpx.AsyncClient, url: httpx.URL, body: bytes, headers: Mapping[str, str], what: str
) -> httpx.Response:
    """POST `body`; a successful (2xx) response, or SendError. Unreachable, timeouts, 408/429/5xx
    are transient; other 4xx, redirects and bad URLs permanent. Error texts never show the URL's
    query (a 企业微信 key is there)."""
    try:
        r = await http.post(url, content=body, headers=dict(headers))
    except (httpx.ConnectError, httpx.ConnectTimeout) as e:
        raise SendError(f"{what} unreachable: {e!r}", permanent=False) from None
    except httpx.TimeoutException as e:
        # The request may have arrived: a retry carries the same delivery id to dedup on.
        raise SendError(f"{what} timed out: {e!r}", permanent=False) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
        raise SendError(f"bad {what} URL: {e}", permanent=True) from None
    except httpx.TransportError as e:
        raise SendError(f"{what} transport error: {e!r}", permanent=False) from None
    if r.is_success:
        return r
    detail = f"HTTP {r.status_code} {r.reason_phrase}: {r.text[:300]}".rstrip(": ")
    if r.status_code in (408, 429) or r.status_code >= 500:
        raise SendError(detail, permanent=False, retry_after=_retry_after(r))
    raise SendError(detail, permanent=True)


def _retry_after(r: httpx.Response) -> float | None:
    value = r.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
