"""Meta signs each webhook with the app secret: `X-Hub-Signature-256: sha256=<HMAC of body>`."""

from __future__ import annotations

import hashlib
import hmac

from switchboard.common.errors import Forbidden


def expected(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for `body`, which must be the raw bytes as received."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(app_secret: str, body: bytes, header: str | None) -> None:
    """`Forbidden` unless `header` signs exactly these bytes with this app secret."""
    if not header:
        raise Forbidden("Missing X-Hub-Signature-256.")
    if not hmac.compare_digest(expected(app_secret, body), header.strip()):
        raise Forbidden("Invalid X-Hub-Signature-256.")
