"""Livy's error answers, as a user reads them in a cell.

sparkmagic prints an HTTP error as "Invalid status code '400' from <url> with error
payload: <the whole JSON body>", and the embedded engine's body carries the message twice
(Livy's `msg` and the project's `error.message`). The cell shows it once, as a sentence.
An answer that says the engine cannot run a kind (`UnsupportedKind`: R is missing, say)
needs no tips about busy clusters or restarting: those are dropped after it.
"""

from __future__ import annotations

import json
import re

_PAYLOAD = re.compile(r" with error payload: (\{.*?\})(?=\.?\s*(?:\n|$))", re.DOTALL)
#: error codes that no retry, restart or reattach to the same engine can fix
FINAL_CODES = frozenset({"UnsupportedKind"})


def readable(message: str) -> str:
    """``message`` with a Livy JSON error payload replaced by the sentence it carries."""
    match = _PAYLOAD.search(message)
    if match is None:
        return message
    try:
        body = json.loads(match.group(1))
    except ValueError:
        return message
    if not isinstance(body, dict):
        return message
    raw = body.get("error")
    error: dict[str, object] = raw if isinstance(raw, dict) else {}
    text = body.get("msg") or error.get("message")
    if not isinstance(text, str) or not text:
        return message
    head = message[: match.start()] + ": " + text.rstrip(".") + "."
    if error.get("code") in FINAL_CODES:
        return head + "\n"
    tail = message[match.end() :]
    return head + (tail[1:] if tail.startswith(".") else tail)
