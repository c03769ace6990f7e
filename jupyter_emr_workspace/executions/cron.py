"""Five-field cron expressions evaluated in a time zone (no dependency needed).

``minute hour day-of-month month day-of-week``, each ``*``, a number, ``a-b``, a list
``a,b``, and a step ``*/n`` or ``a-b/n``; day-of-week 0-7 (0 and 7 are Sunday). As in
Vixie cron, when both day fields are restricted a day matching either one fires. Times are
matched on the zone's wall clock, minute by minute: a wall-clock time that a DST change
skips does not fire that day, one it repeats fires once per UTC minute that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Longest look back for missed firings (a runner down for longer counts "at least").
MAX_SCAN = timedelta(days=31)
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")


class CronError(ValueError):
    """An expression or time zone that cannot be used (the message says why)."""


def _field(text: str, index: int) -> frozenset[int]:
    lo, hi = _RANGES[index]
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = lo, hi
            elif "-" in base:
                a, b = base.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = end = int(base)
                if step_text:
                    end = hi
        except ValueError:
            raise CronError(f"{_NAMES[index]} field {text!r} is not a cron field") from None
        if step < 1 or not lo <= start <= end <= hi:
            raise CronError(f"{_NAMES[index]} field {text!r}: values from {lo} to {hi}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    timezone: str
    fields: tuple[frozenset[int], ...]
    zone: ZoneInfo
    dom_any: bool
    dow_any: bool

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> Cron:
        if not isinstance(expression, str) or not isinstance(timezone, str):
            raise CronError("cron and timezone must be strings")
        parts = expression.split()
        if len(parts) != 5:
            raise CronError(
                f"cron {expression[:100]!r} must have 5 fields: minute hour day-of-month "
                "month day-of-week (e.g. '0 6 * * 1-5')"
            )
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # a folder name: OSError
            raise CronError(f"unknown time zone {timezone[:64]!r} (e.g. 'Europe/Paris')") from None
        fields = tuple(_field(p, i) for i, p in enumerate(parts))
        return cls(expression, timezone, fields, zone, parts[2] == "*", parts[4] == "*")

    def matches(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        minute, hour, dom, month, dow = self.fields
        if local.minute not in minute or local.hour not in hour or local.month not in month:
            return False
        day_ok = local.day in dom
        week_ok = (local.isoweekday() % 7) in dow
        if self.dom_any or self.dow_any:
            return day_ok and week_ok
        return day_ok or week_ok

    def slots(self, after: datetime, until: datetime) -> tuple[datetime | None, int]:
        """The latest firing time in (after, until] and how many there were in all."""
        start = max(after, until - MAX_SCAN)
        moment = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        latest, count = None, 0
        while moment <= until:
            if self.matches(moment):
                latest, count = moment, count + 1
            moment += timedelta(minutes=1)
        return latest, count

    def next_after(self, moment: datetime) -> datetime | None:
        """The next firing time after ``moment`` (within 62 days; None: later), for display."""
        probe = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = probe + timedelta(days=62)
        while probe < end:
            if self.matches(probe):
                return probe
            probe += timedelta(minutes=1)
        return None
