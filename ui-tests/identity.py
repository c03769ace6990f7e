"""An identity provider for the UI tests: two browser contexts, two users.

The user is read from the ``test_user`` cookie or the ``X-Test-User`` header
(default ``alice``), so one server can serve several users in one test run.
Never use this outside tests: anyone may claim to be anyone.
"""

from __future__ import annotations

import re

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Unicode

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class HeaderIdentityProvider(IdentityProvider):
    """Trusts the ``test_user`` cookie / ``X-Test-User`` header."""

    default_user = Unicode("alice", config=True, help="User when none is named.")

    def get_user(self, handler):  # type: ignore[override]
        name = (
            handler.get_cookie("test_user")
            or handler.request.headers.get("X-Test-User")
            or self.default_user
        )
        if not _NAME.match(name):
            name = self.default_user
        return User(username=name, name=name, display_name=name.capitalize())

    @property
    def auth_enabled(self) -> bool:
        return False

    @property
    def login_available(self) -> bool:
        return False
