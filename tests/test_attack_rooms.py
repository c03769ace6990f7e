"""Side doors of the collaboration room guard, tried on a real ``jupyter server`` with the
collaboration extensions as installed: y-protocol messages in every spelling a client can
send, text-file rooms, and the timeline/undo routes, from a user without the lease.

Each test makes its own Workspace and documents; the server is shared for speed only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import websocket
from emrws_testing.servers import ServerProcess
from emrws_testing.ydoc import YNotebookClient, ws_headers, ws_url
from pycrdt import (
    Doc,
    Encoder,
    Text,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)
from test_lock_rooms import new_workspace, open_workspace, save, saved_with, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("attack-rooms")
    studio = {"id": "es-attack-rooms", "backup_uri": str(base / "store"), "lease_seconds": 60}
    proc = ServerProcess(base / "root", studio, name="attack-rooms")
    try:
        yield proc.start()
    finally:
        proc.stop()


def var_uint_padded(value: int) -> bytes:
    """``value`` as a two-byte (non-minimal) var-uint: the same number to a LEB128 reader,
    a different first byte to a check that reads one byte."""
    assert value < 0x80
    return bytes([0x80 | value, 0x00])


def raw_save(padded: bool) -> bytes:
    """The RAW "save" request JupyterLab sends (ctrl-S), optionally with a padded header."""
    enc = Encoder()
    enc.write_var_string("save")
    enc.write_var_uint(1)
    body = enc.to_bytes()
    return (var_uint_padded(2) if padded else b"\x02") + body


def test_no_spelling_of_a_y_message_lets_a_non_holder_change_a_notebook(
    server: ServerProcess,
) -> None:
    wid, folder = new_workspace(server)
    open_workspace(server, wid)
    path = f"{folder}/spellings.ipynb"
    save(server, path, "x = 1\n")
    bob = YNotebookClient(server, path, "bob")
    try:
        bob.pump(lambda: bob.source() == "x = 1\n")
        state = bob.doc.get_state()
        source = bob.nb.ycells[0]["source"]
        assert isinstance(source, Text)
        source.insert(len(source), "bob was here\n")
        update = bob.doc.get_update(state)
        step2 = b"\x00\x01" + create_update_message(update)[2:]
        attempts = {
            "sync step 2 (as a server's answer)": step2,
            "update with a padded message type": var_uint_padded(0)
            + create_update_message(update)[1:],
            "awareness carrying an update": b"\x01" + create_update_message(update)[2:],
            "step 1 followed by an update in one frame": create_sync_message(Doc())
            + create_update_message(update),
            "save request": raw_save(padded=False),
            "save request with a padded type": raw_save(padded=True),
            "unknown type": b"\x07" + create_update_message(update)[1:],
        }
        for message in attempts.values():
            bob.ws.send_binary(message)
        alice = YNotebookClient(server, path, "alice")  # she holds the lease
        try:
            alice.pump(lambda: alice.source().startswith("x = 1\n"))
            alice.append("a = 2\n")
            saved = wait_for(lambda: saved_with(server, path, "a = 2"), "alice's edit saved")
            assert "bob" not in saved and "bob" not in alice.source(), saved
        finally:
            alice.close()
    finally:
        bob.close()


class YTextClient:
    """One user's live view of a plain text file's room (``text:file:<id>``)."""

    def __init__(self, server: ServerProcess, path: str, user: str) -> None:
        r = server.request(
            "PUT",
            f"/api/collaboration/session/{path}",
            user=user,
            json={"format": "text", "type": "file"},
        )
        assert r.status_code in (200, 201), r.text
        session = r.json()
        url = ws_url(server, f"/api/collaboration/room/text:file:{session['fileId']}")
        self.ws = websocket.create_connection(
            f"{url}?sessionId={session['sessionId']}", header=ws_headers(server, user), timeout=10
        )
        self.doc = Doc()
        self.text = self.doc.get("source", type=Text)
        self.ws.send_binary(create_sync_message(self.doc))

    def pump_until(self, wanted: str) -> None:
        def seen() -> bool:
            return wanted in str(self.text)

        deadline_hits = 0
        while not seen():
            deadline_hits += 1
            assert deadline_hits < 200, str(self.text)
            try:
                message = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            if isinstance(message, bytes) and message[:1] == b"\x00":
                reply = handle_sync_message(message[1:], self.doc)
                if reply is not None:
                    self.ws.send_binary(reply)

    def append(self, text: str) -> None:
        state = self.doc.get_state()
        self.text.insert(len(self.text), text)
        self.ws.send_binary(create_update_message(self.doc.get_update(state)))

    def close(self) -> None:
        self.ws.close()


def test_a_non_holder_cannot_change_a_text_file_through_its_room(server: ServerProcess) -> None:
    wid, folder = new_workspace(server)
    open_workspace(server, wid)
    path = f"{folder}/script-{uuid.uuid4().hex[:6]}.py"
    r = server.request(
        "PUT", f"/api/contents/{path}", json={"type": "file", "format": "text", "content": "x\n"}
    )
    assert r.status_code in (200, 201), r.text
    bob = YTextClient(server, path, "bob")
    try:
        bob.pump_until("x\n")
        bob.append("bob was here\n")
        bob.ws.send_binary(raw_save(padded=False))
        alice = YTextClient(server, path, "alice")
        try:
            alice.pump_until("x\n")
            alice.append("alice\n")

            def on_disk() -> str | None:
                text = (server.root / path).read_text()
                return text if "alice" in text else None

            saved = wait_for(on_disk, "alice's edit saved")
            assert "bob" not in saved and "bob" not in str(alice.text), saved
        finally:
            alice.close()
    finally:
        bob.close()


def test_the_timeline_and_undo_routes_cannot_change_a_workspace_document(
    server: ServerProcess,
) -> None:
    wid, folder = new_workspace(server)
    open_workspace(server, wid)
    path = f"{folder}/history.ipynb"
    save(server, path, "x = 1\n")
    alice = YNotebookClient(server, path, "alice")
    try:
        alice.pump(lambda: alice.source() == "x = 1\n")
        for n in range(3):
            alice.append(f"a{n} = {n}\n")
        wait_for(lambda: saved_with(server, path, "a2 = 2"), "alice's edits saved")
        before = (server.root / path).read_text()
        r = server.request(
            "GET",
            f"/api/collaboration/timeline/{path}?format=json&type=notebook",
            user="bob",
        )
        assert r.status_code == 200, r.text
        fork_room, room = r.json()["forkRoom"], r.json()["roomId"]
        for action in ("undo", "undo", "restore"):
            r = server.request(
                "PUT",
                f"/api/collaboration/undo_redo/{room}?action={action}&steps=5&forkRoom={fork_room}",
                user="bob",
            )
            assert r.status_code in (200, 404), r.text
        # the timeline's copy is not a fork that can be merged into the document
        r = server.request("DELETE", f"/api/collaboration/fork/{fork_room}?merge=true", user="bob")
        assert r.status_code == 403, r.text
        alice.append("after = 1\n")
        saved = wait_for(lambda: saved_with(server, path, "after = 1"), "alice's next edit")
        assert all(f"a{n} = {n}" in saved for n in range(3)), saved
        assert before != saved
    finally:
        alice.close()


def test_a_fork_made_outside_cannot_be_merged_once_its_document_moved_into_a_workspace(
    server: ServerProcess,
) -> None:
    wid, folder = new_workspace(server)
    outside = f"draft-{uuid.uuid4().hex[:8]}.ipynb"
    save(server, outside, "x = 1\n")
    bob = YNotebookClient(server, outside, "bob")
    try:
        bob.pump(lambda: bob.source() == "x = 1\n")
        r = server.request("PUT", f"/api/collaboration/fork/{bob.room}", user="bob", json={})
        assert r.status_code == 201, r.text
        fork = r.json()["fork_roomid"]
        editor = YNotebookClient(server, outside, "bob", room=fork)
        try:
            editor.pump(lambda: editor.source() == "x = 1\n")
            editor.append("from the fork\n")
            check = YNotebookClient(server, outside, "bob", room=fork)
            check.pump(lambda: "from the fork" in check.source())
            check.close()
        finally:
            editor.close()
        open_workspace(server, wid)  # alice moves the document into her Workspace
        inside = f"{folder}/moved-{uuid.uuid4().hex[:6]}.ipynb"
        r = server.request("PATCH", f"/api/contents/{outside}", json={"path": inside})
        assert r.status_code == 200, r.text
        r = server.request("DELETE", f"/api/collaboration/fork/{fork}?merge=true", user="bob")
        assert r.status_code == 423, r.text
        alice = YNotebookClient(server, inside, "alice")
        try:
            alice.pump(lambda: alice.source().startswith("x = 1\n"))
            alice.append("a = 2\n")
            saved = wait_for(lambda: saved_with(server, inside, "a = 2"), "alice's edit saved")
            assert "from the fork" not in saved and "fork" not in alice.source(), saved
        finally:
            alice.close()
    finally:
        bob.close()
