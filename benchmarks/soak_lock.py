"""Lock soak: real ``jupyter server`` processes on one S3, randomized lock and notebook
traffic through the REST APIs, servers killed with SIGKILL and S3 cut away, and after
every round a check that the lock's promises held (see ``soak_check.py``).

    python benchmarks/soak_lock.py --rounds 1000 --seed 1

Each server is configured as an admin does (``c.Studio.*`` in its config file, no
``server_id`` and, unless ``--contents-manager`` says otherwise, no contents manager),
reaches moto through its own TCP proxy (stopping it cuts that server's S3), and runs
with a short lease and autosave interval so expiry and takeover happen within the run.
moto runs single-threaded in its own process: conditional writes are atomic as on S3.
Everything listens on 127.0.0.1; wall time and requests are bounded (``--max-seconds``,
``--max-requests``). At the end every cut is healed, every killed server restarted,
and each server that acknowledged a save not yet found in the store reopens that
Workspace and flushes it (what a user does after a crash); then every acknowledged save
must be accounted for. Exit status 1 if any violation was found; the seed and round of
each are printed, with the operations on that Workspace that led to it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MotoProcess
from emrws_testing.moto_servers import client
from emrws_testing.proxy import DelayProxy
from emrws_testing.servers import ServerProcess
from soak_check import Checker, StoreObject, epoch, history_of

STUDIO_ID = "es-soak"
NAMES = ("a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb")
API = "/emr-workspace/api"


@dataclass
class Options:
    rounds: int = 1000
    seed: int = 1
    servers: int = 4
    workspaces: int = 3
    users: int = 3
    collaboration: int = 0
    lease_seconds: int = 10
    autosave_interval: int = 1
    ops_per_round: int = 6
    kill_rate: float = 0.01
    cut_rate: float = 0.02
    max_seconds: float = 3600.0
    max_requests: int = 200_000
    contents_manager: str | None = None
    workdir: Path | None = None
    log: Path | None = None
    json: Path | None = None
    quiet: bool = False
    #: instead of random rounds, a fixed sequence: "lapsed-close"
    scenario: str | None = None


@dataclass
class Node:
    """One server process and the proxy that is its only way to S3."""

    index: int
    proc: ServerProcess
    proxy: DelayProxy
    alive: bool = True
    cut_until: float | None = None
    restart_at: float | None = None
    starting: threading.Thread | None = None
    start_failure: list[BaseException] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"s{self.index}"


@dataclass
class Session:
    """A lease as this client (a browser tab) knows it."""

    node: int
    user: str
    ws: str
    token: str
    generation: int
    expires_at: float
    path: str
    #: when the tab stops heartbeating on its own (closed laptop, lost tab)
    abandon_at: float = 0.0


@dataclass
class Report:
    options: dict[str, Any]
    rounds: int = 0
    ops: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    restarts: int = 0
    cuts: int = 0
    requests: int = 0
    saves_acknowledged: int = 0
    violations: list[str] = field(default_factory=list)
    reproductions: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    setup_seconds: float = 0.0
    settle_seconds: float = 0.0
    stopped_by: str = "rounds"
    command: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "ops": dict(self.ops),
            "statuses": dict(sorted(self.statuses.items())),
        }


class BudgetExceeded(Exception):
    pass


class Soak:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.rng = random.Random(options.seed)
        self.users = [f"u{i}" for i in range(options.users)]
        self.report = Report(options={k: str(v) for k, v in options.__dict__.items()})
        self.checker = Checker()
        self.nodes: list[Node] = []
        self.sessions: dict[tuple[int, str, str], Session] = {}
        #: (node, user, ws) → until when this client cannot know whether a lease is held
        self.uncertain: dict[tuple[int, str, str], float] = {}
        self.workspaces: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.counter = 0
        self._last_ack = 0.0
        self.http = threading.local()
        self.started = time.monotonic()
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------
    def _count(self, n: int = 1) -> None:
        with self._lock:
            self.report.requests += n
            if self.report.requests > self.o.max_requests:
                raise BudgetExceeded(f"more than {self.o.max_requests} requests")

    def call(
        self, node: Node, method: str, path: str, user: str, body: Any = None
    ) -> tuple[int, Any, float, float]:
        """One request to a server: (status or 0 if no answer, JSON body, sent, received)."""
        self._count()
        session = getattr(self.http, "session", None)
        if session is None:
            session = self.http.session = requests.Session()
        sent = time.time()
        try:
            r = session.request(
                method,
                node.proc.url + path,
                headers={"Authorization": f"token {node.proc.token}", "X-Test-User": user},
                json=body,
                timeout=20,
            )
        except requests.RequestException:
            return 0, None, sent, time.time()
        received = time.time()
        try:
            data = r.json() if r.content else None
        except ValueError:
            data = None
        return r.status_code, data, sent, received

    def log(self, kind: str, **facts: Any) -> None:
        event = {"round": self.checker.round, "t": round(time.time(), 3), "op": kind, **facts}
        self.events.append(event)

    def op(self, kind: str, status: int) -> None:
        self.report.ops[kind] += 1
        self.report.statuses[f"{kind} {status}"] += 1

    # -- setup and teardown -------------------------------------------------------------
    def studio(self, node_proxy: DelayProxy) -> dict[str, Any]:
        return {
            "id": STUDIO_ID,
            "backup_uri": f"s3://{self.bucket}/backups",
            "endpoint_url": node_proxy.url,
            "lease_seconds": self.o.lease_seconds,
            "autosave_interval": self.o.autosave_interval,
            "backup_max_backoff": 2.0,
            "flush_timeout": 5.0,
            "request_timeout": 10.0,
        }

    def _server(self, node_index: int, proxy: DelayProxy) -> ServerProcess:
        root = self.workdir / f"s{node_index}" / "root"
        proc = ServerProcess(root, self.studio(proxy), name=f"s{node_index}")
        config = json.loads(proc.config_path.read_text())
        # as installed: a random server id per start, the contents manager pip sets up
        config.pop("EmrWorkspaceApp", None)
        if self.o.contents_manager:
            config["ServerApp"]["contents_manager_class"] = self.o.contents_manager
        # the server's own botocore retries would hide a cut behind seconds of waiting
        proc.config_path.write_text(json.dumps(config))
        return proc

    def setup(self) -> None:
        # moto takes any key; no real credentials are ever looked for or used
        for name, value in (
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ):
            os.environ[name] = value
        os.environ.pop("AWS_PROFILE", None)
        self.workdir = Path(self.o.workdir or tempfile.mkdtemp(prefix="soak-lock-"))
        self.moto = MotoProcess(serial=True)
        self.s3 = client(self.moto.url, "s3")
        self.bucket = f"soak-{uuid.uuid4().hex[:10]}"
        self.s3.create_bucket(Bucket=self.bucket)
        for i in range(self.o.servers):
            proxy = DelayProxy(self.moto.port).start()
            self.nodes.append(Node(i, self._server(i, proxy), proxy))
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.proc.start(timeout=120), self.nodes))
        owner = self.users[0]
        for i in range(self.o.workspaces):
            status, data, _, _ = self.call(
                self.nodes[0], "POST", f"{API}/workspaces", owner, {"name": f"soak-{i}"}
            )
            if status != 201:
                raise RuntimeError(f"could not create a Workspace: {status} {data}")
            ws = data["id"]
            self.workspaces.append(ws)
            if i < self.o.collaboration:
                status, data, _, _ = self.call(
                    self.nodes[0],
                    "PATCH",
                    f"{API}/workspaces/{ws}",
                    owner,
                    {
                        "collaboration": {
                            "enabled": True,
                            "collaborators": ["user:" + u for u in self.users],
                        }
                    },
                )
                if status != 200:
                    raise RuntimeError(f"could not turn collaboration on: {status} {data}")
                self.checker.collaboration.add(ws)

    def teardown(self) -> None:
        def stop(node: Node) -> None:
            if node.starting is not None:
                node.starting.join(150)  # never leave a server starting behind us
            with contextlib.suppress(Exception):
                node.proc.stop(timeout=10)
            with contextlib.suppress(Exception):
                node.proxy.close()

        if self.nodes:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(stop, self.nodes))
        with contextlib.suppress(Exception):
            self.moto.stop()

    # -- the client's view ----------------------------------------------------------------
    def live_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    def new_version(self) -> str:
        self.counter += 1
        return f"v{self.o.seed}-{self.counter}"

    # -- operations -----------------------------------------------------------------------
    def do_open(self, node: Node, user: str, ws: str) -> None:
        status, data, sent, received = self.call(node, "POST", f"{API}/workspaces/{ws}/open", user)
        self._opened(node, user, ws, status, data, sent, received)

    def _opened(
        self, node: Node, user: str, ws: str, status: int, data: Any, sent: float, received: float
    ) -> None:
        self.op("open", status)
        key = (node.index, user, ws)
        if status == 200:
            lease = data["lease"]
            expires = epoch(lease["expires_at"])
            self.checker.granted(
                ws, user, node.name, lease["token"], lease["generation"], expires, sent, received
            )
            known = self.sessions.get(key)
            if known is not None and known.token == lease["token"]:
                known.expires_at = expires
            else:
                self.sessions[key] = Session(
                    node.index,
                    user,
                    ws,
                    lease["token"],
                    lease["generation"],
                    expires,
                    data["path"],
                    received + self.rng.expovariate(1 / (2 * self.o.lease_seconds)),
                )
            self.uncertain.pop(key, None)
            restore = {k: data[k] for k in ("restored", "restore_error") if data.get(k)}
            if data.get("conflicts"):
                restore["conflicts"] = [c.get("conflict_path") for c in data["conflicts"]]
            self.log(
                "open",
                **restore,
                node=node.name,
                user=user,
                ws=ws,
                gen=lease["generation"],
                token=lease["token"][-6:],
                expires=round(expires, 3),
            )
        else:
            code = (data or {}).get("error", {}).get("code") if isinstance(data, dict) else None
            if status != 409:
                self.uncertain[key] = sent + self.o.lease_seconds + 3
            self.log("open-refused", node=node.name, user=user, ws=ws, status=status, code=code)

    def do_race(self, ws: str) -> None:
        """Several users open one Workspace at once on different servers."""
        nodes = self.live_nodes()
        pairs = [
            (self.rng.choice(nodes), u)
            for u in self.rng.sample(self.users, min(3, len(self.users)))
        ]
        with ThreadPoolExecutor(len(pairs)) as pool:
            results = list(
                pool.map(
                    lambda p: self.call(p[0], "POST", f"{API}/workspaces/{ws}/open", p[1]), pairs
                )
            )
        self.report.ops["race"] += 1
        for (node, user), (status, data, sent, received) in sorted(
            zip(pairs, results, strict=True), key=lambda x: x[1][3]
        ):
            self._opened(node, user, ws, status, data, sent, received)

    def do_heartbeat(self, s: Session) -> None:
        node = self.nodes[s.node]
        status, data, sent, received = self.call(
            node, "POST", f"{API}/workspaces/{s.ws}/heartbeat", s.user, {"token": s.token}
        )
        self.op("heartbeat", status)
        key = (s.node, s.user, s.ws)
        if status == 200:
            expires = epoch(data["lease"]["expires_at"])
            self.checker.renewed(s.ws, s.token, expires, sent)
            s.expires_at = expires
        elif status == 409:
            self.checker.ended(s.ws, s.token, received)
            self.sessions.pop(key, None)
        self.log(
            "heartbeat", node=node.name, user=s.user, ws=s.ws, status=status, token=s.token[-6:]
        )

    def do_close(self, s: Session) -> None:
        node = self.nodes[s.node]
        status, _, _, received = self.call(
            node, "POST", f"{API}/workspaces/{s.ws}/close", s.user, {"token": s.token}
        )
        self.op("close", status)
        self.sessions.pop((s.node, s.user, s.ws), None)
        if status == 204:
            self.checker.ended(s.ws, s.token, received)
        else:
            self.uncertain[(s.node, s.user, s.ws)] = s.expires_at + 3
        self.log("close", node=node.name, user=s.user, ws=s.ws, status=status, token=s.token[-6:])

    def _read_history(self, node: Node, user: str, path: str) -> list[str] | None:
        status, data, _, _ = self.call(node, "GET", f"/api/contents/{path}?content=1", user)
        if status == 404:
            return []
        if status != 200 or not isinstance(data, dict) or data.get("type") != "notebook":
            return None
        cells = (data.get("content") or {}).get("cells") or []
        if not cells:
            return []
        source = cells[0].get("source", "")
        return ("".join(source) if isinstance(source, list) else str(source)).split()

    def _files(self, node: Node, user: str, folder: str) -> list[str]:
        status, data, _, _ = self.call(node, "GET", f"/api/contents/{folder}?content=1", user)
        if status != 200 or not isinstance(data, dict):
            return []
        return [c["name"] for c in data.get("content") or [] if c.get("name") in NAMES]

    def do_save(self, s: Session, name: str, *, probe: bool = False) -> None:
        node = self.nodes[s.node]
        path = f"{s.path}/{name}"
        history = self._read_history(node, s.user, path)
        if history is None:
            return
        vid = self.new_version()
        nb = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {
                    "cell_type": "markdown",
                    "id": "c1",
                    "metadata": {},
                    "source": " ".join([*history, vid]),
                }
            ],
        }
        status, _, sent, received = self.call(
            node,
            "PUT",
            f"/api/contents/{path}",
            s.user,
            {"type": "notebook", "format": "json", "content": nb},
        )
        kind = "probe-write" if probe else "save"
        self.op(kind, status)
        self.log(
            kind,
            node=node.name,
            user=s.user,
            ws=s.ws,
            path=name,
            version=vid,
            status=status,
            gen=s.generation,
        )
        if status not in (200, 201):
            return
        if probe:
            self.checker.write_accepted(
                s.ws,
                s.user,
                node.name,
                name,
                "this client holds no lease there (never opened, closed, lost or expired)",
            )
            return
        self.report.saves_acknowledged += 1
        self._last_ack = received
        self.checker.saved(s.ws, name, vid, node.name, s.user, s.generation, received)
        if s.expires_at < sent - self.checker.slack:
            self.checker.write_accepted(
                s.ws,
                s.user,
                node.name,
                name,
                f"its lease expired {sent - s.expires_at:.1f}s before the save",
            )

    def do_delete(self, s: Session) -> None:
        node = self.nodes[s.node]
        files = self._files(node, s.user, s.path)
        if not files:
            return
        name = self.rng.choice(files)
        path = f"{s.path}/{name}"
        history = self._read_history(node, s.user, path) or []
        status, _, _, received = self.call(node, "DELETE", f"/api/contents/{path}", s.user)
        self.op("delete", status)
        self.log(
            "delete",
            node=node.name,
            user=s.user,
            ws=s.ws,
            path=name,
            status=status,
            gen=s.generation,
        )
        if status == 204:
            self.checker.removed(s.ws, name, s.generation, received, history)

    def do_rename(self, s: Session) -> None:
        node = self.nodes[s.node]
        files = self._files(node, s.user, s.path)
        free = [n for n in NAMES if n not in files]
        if not files or not free:
            return
        old, new = self.rng.choice(files), self.rng.choice(free)
        history = self._read_history(node, s.user, f"{s.path}/{old}") or []
        status, _, _, received = self.call(
            node, "PATCH", f"/api/contents/{s.path}/{old}", s.user, {"path": f"{s.path}/{new}"}
        )
        self.op("rename", status)
        self.log(
            "rename",
            node=node.name,
            user=s.user,
            ws=s.ws,
            path=old,
            to=new,
            status=status,
            gen=s.generation,
        )
        if status == 200:
            # the content moves: its versions must turn up under the new name
            self.checker.moved(s.ws, old, new, node.name, s.generation, received, history)

    def do_probe(self) -> None:
        """A user who holds no lease on a server tries to save into a Workspace there."""
        node = self.rng.choice(self.live_nodes())
        user, ws = self.rng.choice(self.users), self.rng.choice(self.workspaces)
        key = (node.index, user, ws)
        s = self.sessions.get(key)
        now = time.time()
        if s is not None and s.expires_at > now - 2 * self.checker.slack:
            return
        if self.uncertain.get(key, 0) > now:
            return
        ghost = Session(node.index, user, ws, "", -1, 0.0, f"workspaces/{ws}")
        self.do_save(ghost, self.rng.choice(NAMES), probe=True)

    # -- faults -------------------------------------------------------------------------
    def kill(self, node: Node) -> None:
        node.proc.stop(sig=signal.SIGKILL)
        node.alive = False
        node.restart_at = time.time() + self.rng.uniform(0, self.o.lease_seconds)
        for key in [k for k in self.sessions if k[0] == node.index]:
            del self.sessions[key]  # the tabs lose their server; the leases stay in the store
        self.report.kills += 1
        self.log("kill", node=node.name)

    def restart(self, node: Node) -> None:
        """Start the server again (in the background: rounds go on meanwhile)."""
        node.restart_at = None
        failure: list[BaseException] = []

        def start() -> None:
            try:
                node.proc = self._server(node.index, node.proxy)
                node.proc.start(timeout=120)
            except BaseException as e:  # reported by the round loop
                failure.append(e)

        node.starting = threading.Thread(target=start, daemon=True)
        node.start_failure = failure
        node.starting.start()

    def note_started(self, node: Node, *, wait: bool = False) -> None:
        """Mark a restarted server alive once it answers."""
        if node.starting is None or (node.starting.is_alive() and not wait):
            return
        node.starting.join()
        node.starting = None
        if node.start_failure:
            raise RuntimeError(f"server {node.name} did not restart") from node.start_failure[0]
        node.alive = True
        self.report.restarts += 1
        self.log("restart", node=node.name)

    def cut(self, node: Node) -> None:
        node.proxy.stop()
        node.cut_until = time.time() + self.rng.uniform(2, 2.5 * self.o.lease_seconds)
        self.report.cuts += 1
        self.log("cut", node=node.name, seconds=round(node.cut_until - time.time(), 1))

    def heal(self, node: Node) -> None:
        node.proxy.start()
        node.cut_until = None
        self.log("heal", node=node.name)

    def faults(self) -> None:
        now = time.time()
        for node in self.nodes:
            if node.cut_until is not None and node.cut_until <= now:
                self.heal(node)
            if not node.alive and node.restart_at is not None and node.restart_at <= now:
                self.restart(node)
            self.note_started(node)
        live = self.live_nodes()
        r = self.checker.round
        # at least one of each, whatever the rates and the seed
        must_kill = r == max(2, self.o.rounds // 3) and not self.report.kills
        must_cut = r == max(1, self.o.rounds // 5) and not self.report.cuts
        if len(live) > 1 and (must_kill or self.rng.random() < self.o.kill_rate):
            self.kill(self.rng.choice(live))
        uncut = [n for n in self.nodes if n.cut_until is None]
        if uncut and (must_cut or self.rng.random() < self.o.cut_rate):
            self.cut(self.rng.choice(uncut))

    # -- a round ------------------------------------------------------------------------
    def step(self) -> None:
        self.faults()
        for key, s in list(self.sessions.items()):
            if s.expires_at < time.time() - self.o.lease_seconds:
                del self.sessions[key]  # an abandoned tab: its lease ran out long ago
        for s in list(self.sessions.values()):
            # a tab heartbeats when half of the lease is left, until it is abandoned
            now = time.time()
            if s.expires_at - now < self.o.lease_seconds / 2 and now < s.abandon_at:
                self.do_heartbeat(s)
        for _ in range(self.o.ops_per_round):
            live = self.live_nodes()
            sessions = [s for s in self.sessions.values() if self.nodes[s.node].alive]
            r = self.rng.random()
            if r < 0.2 or not sessions:
                self.do_open(
                    self.rng.choice(live),
                    self.rng.choice(self.users),
                    self.rng.choice(self.workspaces),
                )
            elif r < 0.25:
                self.do_race(self.rng.choice(self.workspaces))
            elif r < 0.6:
                self.do_save(self.rng.choice(sessions), self.rng.choice(NAMES))
            elif r < 0.7:
                self.do_delete(self.rng.choice(sessions))
            elif r < 0.8:
                self.do_rename(self.rng.choice(sessions))
            elif r < 0.87:
                self.do_heartbeat(self.rng.choice(sessions))
            elif r < 0.94:
                self.do_close(self.rng.choice(sessions))
            else:
                self.do_probe()

    def snapshot(self) -> None:
        """Read every lock object and backup object straight from moto (not through a
        proxy) and hand them to the checker."""
        for ws in self.workspaces:
            key = f"backups/.emr-workspace/studios/{STUDIO_ID}/locks/{ws}.json"
            sent = time.time()
            self._count()
            try:
                doc = json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            except self.s3.exceptions.NoSuchKey:
                doc = None
            self.checker.observe_lock(ws, doc, sent)
            prefix = f"backups/{ws}/"
            self._count()
            listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
            snap: dict[str, StoreObject] = {}
            for obj in listed:
                # a GET each time: the generation is metadata, and the same bytes (one
                # ETag) are written under different generations (a rename, a restore)
                self._count()
                try:
                    got = self.s3.get_object(Bucket=self.bucket, Key=obj["Key"])
                except self.s3.exceptions.NoSuchKey:
                    continue
                generation = int(got.get("Metadata", {}).get("generation") or 0)
                history = history_of(got["Body"].read())
                snap[obj["Key"][len(prefix) :]] = StoreObject(
                    got["ETag"], generation, history, sent
                )
            before = self.checker.objects.get(ws, {})
            for rel, o in snap.items():
                if rel not in before or before[rel].etag != o.etag:
                    self.log(
                        "store", ws=ws, path=rel, gen=o.generation, last=(o.history or [])[-3:]
                    )
            for rel in before.keys() - snap.keys():
                self.log("store-gone", ws=ws, path=rel, gen=before[rel].generation)
            self.checker.observe_backups(ws, snap)

    def poll_flushed(self) -> None:
        """Ask the servers that acknowledged saves not yet due whether they are flushed."""
        wanted = {
            (v.server, v.workspace)
            for v in self.checker.versions.values()
            if not v.due and v.acked_at < time.time() - self.o.autosave_interval - 1
        }
        for server, ws in sorted(wanted):
            node = self.nodes[int(server[1:])]
            if not node.alive:
                continue
            status, data, sent, _ = self.call(
                node, "GET", f"{API}/workspaces/{ws}/backup", self.users[0]
            )
            if (
                status == 200
                and data.get("active")
                and not data.get("pending")
                and not data.get("failed")
            ):
                # the scan that finds saves runs every autosave interval: only what was
                # saved an interval before the question is known to have been seen
                self.checker.flushed(ws, server, sent - self.o.autosave_interval - 1)

    def check(self, *, final: bool = False) -> None:
        self.snapshot()
        if not final:
            self.poll_flushed()
        grace = 0.0 if final else 2.0 * self.o.lease_seconds
        self.checker.check_saves(time.time(), grace)

    # -- the end ------------------------------------------------------------------------
    def settle(self) -> None:
        """Heal, restart, close every tab; then each server that acknowledged a save the
        store does not have reopens that Workspace, flushes and closes it."""
        for node in self.nodes:
            if node.cut_until is not None:
                self.heal(node)
            if not node.alive and node.starting is None:
                self.restart(node)
            self.note_started(node, wait=True)
        for s in list(self.sessions.values()):
            self.do_close(s)
        self.snapshot()
        covered: dict[str, set[str]] = {}
        for ws, objs in self.checker.objects.items():
            for obj in objs.values():
                covered.setdefault(ws, set()).update(obj.history or ())
        for ws, removals in self.checker.removals.items():
            for r in removals:
                covered.setdefault(ws, set()).update(r.history)
        owed = sorted(
            {
                (v.server, v.user, v.workspace)
                for vid, v in self.checker.versions.items()
                if vid not in covered.get(v.workspace, set())
            }
        )
        for server, user, ws in owed:
            node = self.nodes[int(server[1:])]
            deadline = time.time() + 3 * self.o.lease_seconds + 10
            while time.time() < deadline:
                self.do_open(node, user, ws)
                if (node.index, user, ws) in self.sessions:
                    break
                time.sleep(1)
            held = self.sessions.get((node.index, user, ws))
            if held is None:
                self.log("settle-open-failed", node=node.name, user=user, ws=ws)
                continue
            for _ in range(5):
                status, data, _, _ = self.call(node, "POST", f"{API}/workspaces/{ws}/backup", user)
                self.op("flush", status)
                if status == 200 and not data.get("pending") and not data.get("failed"):
                    break
                time.sleep(self.o.autosave_interval + 1)
            self.do_close(held)
        self.checker.round += 1
        self.checker.all_due()
        self.check(final=True)

    def reproduction(self, violation: Any) -> str:
        """The operations on the Workspace (and the faults) that led to a violation."""
        lines = [f"seed {self.o.seed}, round {violation.round}: {violation}"]
        relevant = [
            e
            for e in self.events
            if e["round"] <= violation.round
            and (
                e.get("ws") == violation.workspace or e["op"] in {"kill", "restart", "cut", "heal"}
            )
        ]
        lines += ["    " + json.dumps(e, sort_keys=True) for e in relevant[-60:]]
        return "\n".join(lines)

    # -- the minimal reproduction of what the soak found ------------------------------
    def wait_flushed(self, node: Node, ws: str, user: str, limit: float = 20.0) -> None:
        deadline = time.time() + limit
        while time.time() < deadline:
            status, data, sent, _ = self.call(node, "GET", f"{API}/workspaces/{ws}/backup", user)
            if status == 200 and not data.get("pending") and not data.get("failed"):
                if data.get("active"):
                    self.checker.flushed(ws, node.name, sent - self.o.autosave_interval - 1)
                if sent > self._last_ack + self.o.autosave_interval + 1:
                    return
            time.sleep(0.5)

    def lapsed_close(self) -> None:
        """A server whose S3 is cut cannot close its lease; it lapses; another user takes
        the Workspace over and deletes a notebook; S3 comes back. Found by the soak (seed
        1 and 2, see README-soak.md); the promises say: no older generation writes after
        a newer one acted, and the save acknowledged before the lease lapsed is kept."""
        a, b = self.nodes[0], self.nodes[1]
        ws = self.workspaces[0]

        def check() -> None:
            self.checker.round += 1
            self.check()
            self._note_new()

        self.checker.round = 1
        self.do_open(a, "u0", ws)
        first = self.sessions[(a.index, "u0", ws)]
        self.do_save(first, "d.ipynb")  # v1, backed up
        self.wait_flushed(a, ws, "u0")
        check()
        a.proxy.stop()  # the server's S3 goes away (no automatic heal in this scenario)
        self.report.cuts += 1
        self.log("cut", node=a.name, seconds=None)
        self.do_save(first, "d.ipynb")  # v2: acknowledged while the lease is valid
        self.do_close(first)  # answers 5xx: the store is unreachable
        time.sleep(max(0.0, first.expires_at - time.time()) + 2 * self.checker.slack)
        check()
        self.do_open(b, "u1", ws)  # the lease lapsed: u1 takes over with a new generation
        second = self.sessions[(b.index, "u1", ws)]
        self.do_delete(second)  # u1 deletes d.ipynb (v1, as restored)
        self.wait_flushed(b, ws, "u1")
        check()
        self.heal(a)
        time.sleep(self.o.autosave_interval + 3)  # the first server's backup loop runs
        check()
        self.do_save(second, "d.ipynb")  # v3: u1 writes the notebook anew
        self.wait_flushed(b, ws, "u1")
        check()
        self.do_close(second)
        self.report.rounds = self.checker.round

    def rounds(self) -> None:
        for r in range(1, self.o.rounds + 1):
            if time.monotonic() - self.started > self.o.max_seconds:
                self.report.stopped_by = "max-seconds"
                break
            self.checker.round = r
            self.step()
            self.check()
            self.report.rounds = r
            self._note_new()
            if not self.o.quiet and r % 50 == 0:
                print(
                    f"round {r}: {sum(self.report.ops.values())} ops, "
                    f"{self.report.kills} kills, {self.report.cuts} cuts, "
                    f"{len(self.checker.violations)} violations, "
                    f"{time.monotonic() - self.started:.0f}s",
                    flush=True,
                )

    def run(self) -> Report:
        try:
            self.setup()
            self.report.setup_seconds = round(time.monotonic() - self.started, 1)
            if self.o.scenario == "lapsed-close":
                self.lapsed_close()
            else:
                self.rounds()
            settling = time.monotonic()
            self.settle()
            self.report.settle_seconds = round(time.monotonic() - settling, 1)
            self._note_new()
        except BudgetExceeded as e:
            self.report.stopped_by = str(e)
        finally:
            self.report.wall_seconds = round(time.monotonic() - self.started, 1)
            self.report.violations = [str(v) for v in self.checker.violations]
            if self.o.log:
                self.o.log.write_text("\n".join(json.dumps(e) for e in self.events) + "\n")
            self.teardown()
            if hasattr(self, "workdir"):
                if self.o.workdir is None and not self.checker.violations:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                elif not self.o.quiet:
                    print(f"server roots, configs and logs: {self.workdir}", flush=True)
        return self.report

    def _note_new(self) -> None:
        for v in self.checker.violations[len(self.report.reproductions) :]:
            text = self.reproduction(v)
            self.report.reproductions.append(text)
            if not self.o.quiet:
                print("VIOLATION " + text, flush=True)


def parse(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    d = Options()
    p.add_argument("--rounds", type=int, default=d.rounds)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--servers", type=int, default=d.servers)
    p.add_argument("--workspaces", type=int, default=d.workspaces)
    p.add_argument("--users", type=int, default=d.users)
    p.add_argument(
        "--collaboration",
        type=int,
        default=d.collaboration,
        help="how many of the Workspaces are in collaboration mode",
    )
    p.add_argument("--lease-seconds", type=int, default=d.lease_seconds)
    p.add_argument("--autosave-interval", type=int, default=d.autosave_interval)
    p.add_argument("--ops-per-round", type=int, default=d.ops_per_round)
    p.add_argument("--kill-rate", type=float, default=d.kill_rate, help="per round")
    p.add_argument("--cut-rate", type=float, default=d.cut_rate, help="per round")
    p.add_argument("--max-seconds", type=float, default=d.max_seconds)
    p.add_argument("--max-requests", type=int, default=d.max_requests)
    p.add_argument(
        "--contents-manager",
        default=None,
        help="set c.ServerApp.contents_manager_class (default: as installed)",
    )
    p.add_argument(
        "--scenario",
        choices=["lapsed-close"],
        default=None,
        help="run the minimal reproduction of a violation the soak found, not rounds",
    )
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--log", type=Path, default=None, help="write every operation (JSON lines)")
    p.add_argument("--json", type=Path, default=None, help="write the report here")
    return Options(**vars(p.parse_args(argv)))


def main(argv: list[str]) -> int:
    options = parse(argv)
    report = Soak(options).run()
    report.command = "python benchmarks/soak_lock.py " + shlex.join(argv)
    out = report.to_json()
    out.pop("reproductions")
    print(json.dumps(out, indent=1))
    if options.json:
        options.json.write_text(json.dumps(report.to_json(), indent=1))
    return 1 if report.violations or report.stopped_by not in {"rounds", "max-seconds"} else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
