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


def truncation_note(cut: int, total: int, limit: int, dropped: list[str]) -> str:
    parts = [f"{cut:,} of {total:,} characters cut"]
    if dropped:
        parts.append(f"dropped {', '.join(dropped)}")
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
    limit each, other MIME types stay whole if they fit in what is left (else they are
    dropped, by name), and text/plain takes the rest, ending with a note of what was cut.
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
    bounded: dict[str, Any] = {k: v for k, v in output.items() if k not in ("data",)}
    if isinstance(bounded.get("evalue"), str):
        bounded["evalue"] = _fit(bounded["evalue"], limit // 8)
    if isinstance(bounded.get("traceback"), list):
        kept: list[str] = []
        used = 0
        for line in bounded["traceback"]:
            line = str(line)
            if used + len(line) > limit // 8:
                kept.append(f"... {len(bounded['traceback']) - len(kept)} more lines cut\n")
                break
            kept.append(line)
            used += len(line)
        bounded["traceback"] = kept
    worst_note = output_size(
        truncation_note(total, total, limit, [f"{k} ({total:,} characters)" for k in data])
    )
    room = limit - output_size({**bounded, "data": {"text/plain": ""}}) - worst_note - 64
    others: dict[str, Any] = {}
    dropped: list[str] = []
    reserve = min(len(text), max(0, room) // 4)
    for mime, value in data.items():
        if mime == "text/plain":
            continue
        weight = output_size({mime: value})  # with its key: what it adds to `data`
        if weight <= room - reserve:
            others[mime] = value
            room -= weight
        else:
            dropped.append(f"{mime} ({output_size(value):,} characters)")
    kept_text = _fit(text, room)
    new_data = {"text/plain": kept_text, **others}
    kept_size = output_size({**bounded, "data": new_data})
    cut = max(0, total - kept_size)
    new_data["text/plain"] = kept_text + truncation_note(cut, total, limit, dropped)
    bounded["data"] = new_data
    return bounded
