"""A bound on what one statement's output may weigh, applied in the session and the engine.

The engine keeps every statement's output for the session's life (clients page through
them), so one `print` in a loop or a huge `%json` must not cost the engine gigabytes. Output
over the limit is cut, and the user reads how much was cut and which setting raises it.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_MAX_OUTPUT_CHARS = 10_000_000
SETTING = "c.Studio.local_engine_max_output_chars"


def output_size(output: Any) -> int:
    """Characters of the output as JSON (what the engine stores and serves)."""
    return len(json.dumps(output, ensure_ascii=False, default=str))


#: Other fields of an output (ename, status, execution_count...) are names and counters:
#: each keeps at most this many characters, and a field name longer than this is dropped.
SMALL_FIELD = 256
#: What the note names of what it dropped: this many items, each name cut to NAME_CHARS.
NAMED_DROPS, NAME_CHARS = 5, 64


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[:NAME_CHARS] + "..."


def truncation_note(cut: int, total: int, limit: int, dropped: list[str]) -> str:
    parts = [f"{cut:,} of {total:,} characters cut"]
    if dropped:
        named = ", ".join(dropped[:NAMED_DROPS])
        more = len(dropped) - NAMED_DROPS
        parts.append(f"dropped {named}" + (f" and {more:,} more" if more > 0 else ""))
    return (
        f"\n[output truncated by the local Spark engine: {'; '.join(parts)}. The limit "
        f"is {limit:,} characters per statement ({SETTING}).]"
    )


def _fit(text: str, room: int) -> str:
    """The longest head of `text` whose JSON form takes at most `room` characters."""
    kept = text[: max(0, room)]
    over = output_size(kept) - 2 - room
    while over > 0 and kept:  # escapes (\n, \u0000) make some characters weigh more
        kept = kept[: max(0, len(kept) - over)]
        over = output_size(kept) - 2 - room
    return kept


def bound_output(
    output: dict[str, Any] | None, limit: int, cut_before: int = 0
) -> dict[str, Any] | None:
    """`output` within `limit` characters; `cut_before` = characters already cut upstream.

    Kept whole when it fits. Otherwise the error value and traceback get an eighth of the
    limit each, every other field (user code can forge any: it can write to the session
    socket) a few hundred characters, other MIME types stay whole if they fit in what is
    left (else they are dropped, by name), and text/plain takes the rest, ending with a
    note of what was cut. The result never weighs more than `limit`.
    """
    if output is None or not isinstance(output, dict):
        return output
    size = output_size(output)
    if size <= limit and cut_before == 0:
        return output
    total = size + cut_before
    raw = output.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    text = str(data.get("text/plain", ""))
    dropped: list[str] = []
    bounded = _bound_fields(output, limit, dropped)
    # the longest note this can end with: every other MIME type dropped too
    could_drop = dropped + [
        f"{_short(mime)} ({total:,} characters)" for mime in data if mime != "text/plain"
    ]
    worst_note = output_size(
        truncation_note(total, total, limit, sorted(could_drop, key=len, reverse=True))
    )
    room = limit - output_size({**bounded, "data": {"text/plain": ""}}) - worst_note - 64
    others: dict[str, Any] = {}
    reserve = min(len(text), max(0, room) // 4)
    for mime, value in data.items():
        if mime == "text/plain":
            continue
        weight = output_size({mime: value})  # with its key: what it adds to `data`
        if weight <= room - reserve:
            others[mime] = value
            room -= weight
        else:
            dropped.append(f"{_short(mime)} ({output_size(value):,} characters)")
    kept_text = _fit(text, room)
    new_data = {"text/plain": kept_text, **others}
    kept_size = output_size({**bounded, "data": new_data})
    cut = max(0, total - kept_size)
    new_data["text/plain"] = kept_text + truncation_note(cut, total, limit, dropped)
    bounded["data"] = new_data
    if output_size(bounded) > limit:  # a limit too small for even the fields: the note only
        note = truncation_note(total, total, limit, dropped)
        bounded = {k: bounded[k] for k in ("status", "execution_count") if k in bounded}
        bounded["data"] = {"text/plain": note}
    return bounded


def _bound_fields(output: dict[str, Any], limit: int, dropped: list[str]) -> dict[str, Any]:
    """Every field but `data`, each within its share: the error value and traceback an
    eighth of the limit each, any other field SMALL_FIELD (a bigger value, or a field
    whose name is longer, is dropped and named in `dropped`)."""
    bounded: dict[str, Any] = {}
    for key, value in output.items():
        if key == "data":
            continue
        if len(key) > SMALL_FIELD:
            dropped.append(f"{_short(key)} ({output_size(value):,} characters)")
        elif key == "traceback" and isinstance(value, list):
            bounded[key] = _bound_lines([str(line) for line in value], limit // 8)
        elif key in ("evalue", "traceback") and isinstance(value, str):
            bounded[key] = _fit(value, limit // 8)
        elif isinstance(value, str):
            bounded[key] = _fit(value, SMALL_FIELD)
        elif output_size(value) <= SMALL_FIELD:
            bounded[key] = value
        else:
            dropped.append(f"{_short(key)} ({output_size(value):,} characters)")
    return bounded


def _bound_lines(lines: list[str], room: int) -> list[str]:
    """The first lines of a traceback that fit in `room`, then how many were cut."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + output_size(line) > room:
            kept.append(f"... {len(lines) - len(kept)} more lines cut\n")
            break
        kept.append(line)
        used += output_size(line)
    return kept
