"""Sending a group-robot message (企业微信, 钉钉, 飞书): sign it, POST it, read the robot's answer.

The message was formatted when its action fired (`rules.robots.payload`, kept in the ledger row);
here the secret is read from the environment variable the contact names, the request signed at
the time of sending (`rules.robots.signed`) and posted. A robot answers HTTP 200 with a code of
its own: 0 is accepted; a rate limit or "busy" code is transient (retried with backoff, as an
HTTP 503 is), any other is permanent (a bad key or signature needs a person). Exactly once is the
ledger's (`activities.store.deliveries`), as for e-mail and webhooks.
"""

from __future__ import annotations

import json
import os
import time

import httpx

from activities.posting import DELIVERY_HEADER, SendError, http_url, post
from activities.store.deliveries import Claimed
from models.delivery import DeliveryChannel, delivery_id
from rules.robots import RETRYABLE, reply_code, signed


async def send_robot(c: Claimed, http: httpx.AsyncClient) -> None:
    """Send one claimed robot row; SendError when it did not go through."""
    channel = DeliveryChannel(c.channel)
    what = f"{channel.value} robot"
    url = http_url(c.address, what)
    secret = os.environ.get(c.secret_env) if c.secret_env else None
    if not secret:
        raise SendError(
            f"the {what}'s secret is missing: set {c.secret_env or 'its secret_env'} in the environment",
            permanent=True,
        )
    query, body = signed(channel, c.payload, secret, time.time())
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "duban",
        # Robots ignore it; a proxy or a test receiver can deduplicate on it.
        DELIVERY_HEADER: delivery_id(c.key),
    }
    r = await post(http, url.copy_merge_params(query), data, headers, what)
    try:
        reply = r.json()
    except ValueError:
        reply = None
    code, message = reply_code(reply)
    if code == 0:
        return
    detail = f"{what} refused it: code {code} {message}".rstrip()
    raise SendError(detail, permanent=code not in RETRYABLE[channel])
