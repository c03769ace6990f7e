"""The routes of `app_ui.py`: the links, the local Spark UI proxied, the driver log, EMR's UIs.

The Spark UI is fetched from its loopback port with `X-Forwarded-Context` set to the path it
is served under here, so Spark writes its links, scripts and `uiRoot` with that prefix;
what Spark still writes absolute (the redirect from `/` to `/jobs/`, and any link to its
own host) is rewritten here. Only GET and HEAD pass: the UI's kill buttons (POST) and
anything else answer 405. The page runs in the Jupyter server's origin, so its Content
Security Policy allows only this origin (the UI's inline scripts included).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..errors import UpstreamError
from ..handlers import WS_ID, BaseHandler
from ..services import running
from .app_ui import AppUiService

PROXY_TIMEOUT = 30.0
#: response headers of the Spark UI that are passed on
PASSED_HEADERS = ("Content-Type", "Cache-Control", "Last-Modified", "ETag", "Expires")
UI_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'self'"
)
_ABSOLUTE = re.compile(rb"""(\b(?:href|src|action)\s*=\s*["'])(/(?!/)[^"']*)""", re.IGNORECASE)


def rewrite_location(location: str, upstream: str, prefix: str) -> str:
    """A redirect of the Spark UI, as a path under ``prefix`` (never to its own port)."""
    parts = urlsplit(location)
    origin = urlsplit(upstream)
    if (
        parts.netloc
        and parts.netloc != origin.netloc
        and parts.hostname
        not in (
            "localhost",
            "127.0.0.1",
            "::1",
        )
    ):
        return location  # somewhere else entirely: not ours to rewrite
    path = parts.path or "/"
    if not path.startswith(prefix + "/") and path != prefix:
        path = prefix + path
    return path + (f"?{parts.query}" if parts.query else "")


def rewrite_html(body: bytes, prefix: str) -> bytes:
    """Absolute links Spark did not prefix itself, under ``prefix``."""
    encoded = prefix.encode()

    def fix(match: re.Match[bytes]) -> bytes:
        path = match.group(2)
        if path.startswith(encoded + b"/") or path == encoded:
            return match.group(0)
        return match.group(1) + encoded + path

    return _ABSOLUTE.sub(fix, body)


class AppUiHandler(BaseHandler):
    @property
    def app_ui(self) -> AppUiService:
        app_ui = running(self.services.compute, "compute").app_ui
        return running(app_ui, "Spark UI")


class LinksHandler(AppUiHandler):
    @web.authenticated
    async def get(self, workspace_id: str) -> None:
        self.send(await self.app_ui.links(self.identity(), workspace_id))


class OpenEmrUiHandler(AppUiHandler):
    @web.authenticated
    async def get(self, workspace_id: str) -> None:
        url = await self.app_ui.open_emr(
            self.identity(),
            workspace_id,
            self.get_query_argument("type", ""),
            self.get_query_argument("application_id", None),
            self.get_query_argument("job_run_id", None),
            self.get_query_argument("attempt", None),
        )
        self.redirect(url)


class DriverLogHandler(AppUiHandler):
    @web.authenticated
    async def get(self, workspace_id: str, session_id: str) -> None:
        text = await self.app_ui.driver_log(self.identity(), workspace_id, int(session_id[:18]))
        self.finish(text, set_content_type="text/plain; charset=utf-8")


class SparkUiHandler(AppUiHandler):
    """`workspaces/<id>/spark-ui/<session>/<path>`: the session's Spark UI."""

    @property
    def content_security_policy(self) -> str:
        return UI_CSP

    @web.authenticated
    async def get(self, workspace_id: str, session_id: str, ui_path: str | None = None) -> None:
        await self._proxy(workspace_id, session_id, ui_path or "", head=False)

    @web.authenticated
    async def head(self, workspace_id: str, session_id: str, ui_path: str | None = None) -> None:
        await self._proxy(workspace_id, session_id, ui_path or "", head=True)

    async def _proxy(self, workspace_id: str, session_id: str, ui_path: str, head: bool) -> None:
        sid = int(session_id[:18])
        ui_path = "/" + ui_path if ui_path else ""
        ui = await self.app_ui.local_ui(
            self.identity(), workspace_id, sid, opening=ui_path in ("", "/") and not head
        )
        prefix = self.app_ui.spark_ui_path(workspace_id, sid)
        query = self.request.query
        target = f"{ui.upstream}{ui_path or '/'}" + (f"?{query}" if query else "")
        headers = {"X-Forwarded-Context": prefix}
        accept = self.request.headers.get("Accept")
        if accept:
            headers["Accept"] = accept
        request = HTTPRequest(
            target,
            method="HEAD" if head else "GET",
            headers=headers,
            follow_redirects=False,
            request_timeout=PROXY_TIMEOUT,
            decompress_response=True,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as e:
            raise UpstreamError(
                f"The Spark UI of session {sid} did not answer ({e}); the session may have ended"
            ) from None
        except HTTPClientError as e:  # timeouts (599)
            raise UpstreamError(f"The Spark UI of session {sid} did not answer: {e}") from None
        self.set_status(response.code)
        content_type = response.headers.get("Content-Type") or "application/octet-stream"
        for name in PASSED_HEADERS[1:]:
            value = response.headers.get(name)
            if value:
                self.set_header(name, value)
        location = response.headers.get("Location")
        if location:
            self.set_header("Location", rewrite_location(location, ui.upstream, prefix))
        body = response.body or b""
        if "html" in content_type.lower():
            body = rewrite_html(body, prefix)
        self.finish(b"" if head else body, set_content_type=content_type)


def handlers() -> list[tuple[str, Any]]:
    return [
        (f"workspaces/{WS_ID}/app-ui", LinksHandler),
        (f"workspaces/{WS_ID}/app-ui/open", OpenEmrUiHandler),
        (rf"workspaces/{WS_ID}/driver-log/(?P<session_id>\d+)", DriverLogHandler),
        (rf"workspaces/{WS_ID}/spark-ui/(?P<session_id>\d+)", SparkUiHandler),
        (rf"workspaces/{WS_ID}/spark-ui/(?P<session_id>\d+)/(?P<ui_path>.+)", SparkUiHandler),
    ]
