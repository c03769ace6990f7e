"""Who is calling the engine: the server's admin token, or one owner's own credential.

The engine holds one secret, the admin token (given by the Jupyter server, never written
to a Workspace's config). Each owner (a Workspace) gets its own credential: Basic auth with
the owner's name as user and `owner_password(token, owner)` as password. It is derived, so
the engine needs no list of owners, and one owner's password says nothing about another's
or about the token. An owner sees only the sessions it created; the admin sees all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

OWNER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")  # fullmatch: no "\n" at the end


@dataclass(frozen=True)
class Principal:
    """The caller of one request: an owner name, and whether it may see every session."""

    name: str | None
    admin: bool = False

    def may_use(self, owner: str | None) -> bool:
        return self.admin or (self.name is not None and owner == self.name)


ANONYMOUS = Principal(None, admin=True)  # an engine without a token: no auth at all


def check_owner(owner: str) -> str:
    """An owner name fit for a Basic-auth user name (no ':'), or ValueError."""
    if not OWNER_RE.fullmatch(owner):
        raise ValueError(f"owner {owner!r}: 1-128 letters, digits and . _ @ + -")
    return owner


def owner_password(token: str, owner: str) -> str:
    """The password of `owner` on an engine whose admin token is `token`."""
    mac = hmac.new(token.encode(), b"livy-owner\0" + check_owner(owner).encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def basic_header(user: str, password: str) -> dict[str, str]:
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def authenticate(token: str | None, header: str) -> Principal | None:
    """The Principal an `Authorization` header proves, or None when it proves nothing."""
    if token is None:
        return ANONYMOUS
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if hmac.compare_digest(password.encode(), token.encode()):
        return Principal(user or None, admin=True)
    if not OWNER_RE.fullmatch(user):
        return None
    if hmac.compare_digest(password.encode(), owner_password(token, user).encode()):
        return Principal(user)
    return None
