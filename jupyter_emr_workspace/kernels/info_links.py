"""The Spark UI and driver log links `%%info` shows, from what the server wrote.

The server writes the Workspace's API path (`api_path`, under the server's base URL) into
`workspace.json`; the links are paths under it, so they open in the browser's Jupyter
origin with its login, whatever host the kernel sees. For the local engine they lead to
the session's Spark UI proxied by the server and to its log; for EMR on EC2 to the
server's route that asks EMR for a presigned URL, and for EMR Serverless to the one that
asks for the session's job run dashboard (`compute/app_ui.py`).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote


def local_links(info: dict[str, Any], session: Any) -> tuple[str | None, str | None]:
    """(Spark UI, driver log) of a local session, or Nones when the server wrote no path."""
    base = info.get("api_path")
    if not base:
        return None, None
    has_ui = bool(session.get_spark_ui_url())
    ui = f"{base}/spark-ui/{quote(str(session.id))}/" if has_ui else None
    return ui, f"{base}/driver-log/{quote(str(session.id))}"


def session_user(info: dict[str, Any], session: Any) -> str:
    """Who the session is for: Livy's proxy user or owner, unless that is the Workspace's
    id (the local engine's owner), then who attached the Workspace."""
    user = session.get_user()
    if not user or (str(user).startswith("e-") and info.get("attached_by")):
        return str(info.get("attached_by") or "")
    return str(user)


def emr_links_html(info: dict[str, Any], sessions: list[Any]) -> str:
    """Links under sparkmagic's table on EMR on EC2 (its own point at YARN's hosts, which
    a browser outside the cluster's network cannot reach)."""
    base = info.get("api_path")
    if base and info.get("type") == "emr-serverless":
        return serverless_links_html(base, sessions)
    if not base or info.get("type") != "emr-ec2":
        return ""
    rows = []
    for session in sessions:
        app = session.get_app_id()
        query = f"&application_id={quote(str(app))}" if app else ""
        ui = f"{base}/app-ui/open?type=spark-ui{query}"
        history = f"{base}/app-ui/open?type=spark-history{query}"
        rows.append(
            f"<li>Session {escape(str(session.id))}: "
            f'<a target="_blank" href="{escape(ui)}">Spark UI</a> · '
            f'<a target="_blank" href="{escape(history)}">Spark History Server</a></li>'
        )
    return (
        f"<p>Through EMR (links valid for a few minutes once opened):</p><ul>{''.join(rows)}</ul>"
    )


def serverless_links_html(base: str, sessions: list[Any]) -> str:
    """On EMR Serverless each Livy session runs as a job run whose id is Livy's ``appId``;
    the link asks the server for that job run's dashboard (a URL valid for an hour)."""
    rows = []
    for session in sessions:
        job_run = session.get_app_id()
        if not job_run:
            continue  # still starting: no job run yet
        ui = f"{base}/app-ui/open?type=spark-ui&job_run_id={quote(str(job_run))}"
        rows.append(
            f"<li>Session {escape(str(session.id))} (job run {escape(str(job_run))}): "
            f'<a target="_blank" href="{escape(ui)}">Spark UI</a></li>'
        )
    if not rows:
        return ""
    return (
        "<p>Through EMR Serverless (the live UI while the session runs, its Spark History "
        f"Server after; each link is fetched fresh when opened):</p><ul>{''.join(rows)}</ul>"
    )
