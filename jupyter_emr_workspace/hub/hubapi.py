"""A small client for the JupyterHub REST API, as seen from a single-user server.

The single-user server already holds an API token for the hub (``JUPYTERHUB_API_TOKEN``);
with the scopes the admin grants to the ``server`` role (``shares!user``,
``read:users:name``, ``read:groups``) it can share its own server. Calls go through
tornado's AsyncHTTPClient so they never block the event loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..errors import UpstreamError


@dataclass(frozen=True)
class HubEnv:
    """What JupyterHub tells a single-user server about itself, through its environment."""

    api_url: str
    token: str
    user: str
    server_name: str = ""
    service_prefix: str = ""

    @classmethod
    def from_environ(cls, env: Mapping[str, str] | None = None) -> HubEnv | None:
        """None outside JupyterHub (no hub API URL or token in the environment)."""
        env = os.environ if env is None else env
        api_url, token, user = (
            env.get("JUPYTERHUB_API_URL"),
            env.get("JUPYTERHUB_API_TOKEN"),
            env.get("JUPYTERHUB_USER"),
        )
        if not (api_url and token and user):
            return None
        return cls(
            api_url=api_url.rstrip("/"),
            token=token,
            user=user,
            server_name=env.get("JUPYTERHUB_SERVER_NAME", ""),
            service_prefix=env.get("JUPYTERHUB_SERVICE_PREFIX", ""),
        )


class HubApiError(UpstreamError):
    """The hub refused or failed a call; ``hub_status`` keeps its HTTP status."""

    def __init__(self, message: str, hub_status: int) -> None:
        super().__init__(message, code="HubApiError", hub_status=hub_status)
        self.hub_status = hub_status


class HubClient:
    """The hub calls the sharing service needs, scoped to this server."""

    def __init__(self, env: HubEnv, timeout: float = 20.0) -> None:
        self.env, self.timeout = env, timeout

    @property
    def share_path(self) -> str:
        """``shares/<owner>/<server name>`` (the default server's name is empty)."""
        return f"shares/{quote(self.env.user, safe='')}/{quote(self.env.server_name, safe='')}"

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """One API call; JSON in and out; HubApiError with the hub's message on failure."""
        req = HTTPRequest(
            f"{self.env.api_url}/{path}",
            method=method,
            headers={
                "Authorization": f"token {self.env.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            body=json.dumps(body) if body is not None else None,
            allow_nonstandard_methods=True,
            request_timeout=self.timeout,
        )
        try:
            resp = await AsyncHTTPClient().fetch(req)
        except HTTPClientError as e:
            message = ""
            if e.response is not None and e.response.body:
                try:
                    message = json.loads(e.response.body).get("message", "")
                except (ValueError, AttributeError):
                    message = e.response.body[:200].decode(errors="replace")
            hint = (
                " (the hub's `server` role needs the scopes shares!user, read:users:name and "
                "read:groups; see docs/jupyterhub.md)"
                if e.code == 403
                else ""
            )
            raise HubApiError(
                f"JupyterHub refused {method} {path}: {e.code} {message or e.message}{hint}",
                e.code,
            ) from None
        except OSError as e:
            raise HubApiError(f"JupyterHub API at {self.env.api_url} unreachable: {e}", 0) from None
        return json.loads(resp.body) if resp.body else None

    async def group_members(self, group: str) -> list[str]:
        """Users of a hub group (sharing with a group grants nothing in JupyterHub 6.1.1)."""
        model = await self.request("GET", f"groups/{quote(group, safe='')}")
        return [str(u) for u in (model or {}).get("users", [])]

    async def shared_with(self) -> set[str]:
        """Users this server is shared with right now (directly, not through groups)."""
        users: set[str] = set()
        offset = 0
        while True:
            page = await self.request("GET", f"{self.share_path}?offset={offset}&limit=200")
            items = page.get("items", []) if isinstance(page, dict) else page or []
            users |= {s["user"]["name"] for s in items if s.get("user")}
            nxt = (page.get("_pagination") or {}).get("next") if isinstance(page, dict) else None
            if not nxt or not items:
                return users
            offset = int(nxt.get("offset", offset + len(items)))

    async def share(self, user: str) -> None:
        await self.request("POST", self.share_path, {"user": user})

    async def revoke(self, user: str) -> None:
        await self.request("PATCH", self.share_path, {"user": user})
