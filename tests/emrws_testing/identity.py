"""An IdentityProvider for tests only: the token still authenticates, and the
``X-Test-User`` / ``X-Test-Groups`` headers (or ``test_user`` cookie) say who is calling,
so one server can be used by several users. Never use this outside tests."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.utils import ensure_async


class HeaderIdentityProvider(IdentityProvider):
    async def get_user(self, handler: Any) -> User | None:  # type: ignore[override]
        user = await ensure_async(super().get_user(handler))
        if user is None:
            return None
        name = handler.request.headers.get("X-Test-User") or handler.get_cookie("test_user")
        if not name:
            name = "alice"
        groups = [g for g in (handler.request.headers.get("X-Test-Groups") or "").split(",") if g]
        test_user = User(username=name, name=name, display_name=name)
        if groups:
            test_user.hub_user = {"name": name, "groups": groups}  # type: ignore[attr-defined]
        return test_user
