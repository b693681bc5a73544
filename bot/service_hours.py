"""When online helpers work: "1-5 09:00-17:00" (ISO weekdays, Monday = 1) in one time zone, or "always".

Several windows are separated by ";", e.g. "1-5 09:00-12:00; 1-5 13:30-17:00; 6 09:00-12:00".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WINDOW = re.compile(r"^\s*([1-7])(?:-([1-7]))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$")
_DAY_NAMES = "一二三四五六日"


class HoursError(ValueError):
    """The service-hours setting cannot be understood."""


@dataclass(frozen=True)
class Window:
    first_day: int
    last_day: int
    start: time
    end: time

    def contains(self, moment: datetime) -> bool:
        return self.first_day <= moment.isoweekday() <= self.last_day and self.start <= moment.time() < self.end

    def label(self) -> str:
        days = f"周{_DAY_NAMES[self.first_day - 1]}"
        if self.last_day != self.first_day:
            days += f"至周{_DAY_NAMES[self.last_day - 1]}"
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class ServiceHours:
    windows: tuple[Window, ...]  # empty: always open
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> ServiceHours:
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise HoursError(f"unknown time zone {zone!r}") from err
        if text.strip().lower() == "always":
            return cls((), tz)
        windows = []
        for part in text.split(";"):
            match = _WINDOW.match(part)
            if not match:
                raise HoursError(f"cannot read service hours {part.strip()!r}; write e.g. '1-5 09:00-17:00'")
            first, last, h1, m1, h2, m2 = match.groups()
            try:
                start, end = time(int(h1), int(m1)), time(int(h2), int(m2))
            except ValueError as err:
                raise HoursError(f"bad time in {part.strip()!r}: {err}") from err
            if end <= start or int(last or first) < int(first):
                raise HoursError(f"empty window {part.strip()!r}")
            windows.append(Window(int(first), int(last or first), start, end))
        return cls(tuple(windows), tz)

    def open_at(self, timestamp: float) -> bool:
        if not self.windows:
            return True
        moment = datetime.fromtimestamp(timestamp, self.zone)
        return any(window.contains(moment) for window in self.windows)

    def label(self) -> str:
        return "全天" if not self.windows else "，".join(window.label() for window in self.windows)
