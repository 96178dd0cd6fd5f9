"""Sliding-window send budgets per robot (DingTalk: 20 messages a minute, or the group is muted for 10 minutes).

Over budget, a message is not dropped and not sent: the channel raises a deferred DeliveryError with the
moment a slot frees, and the outbox tries the row again then without counting an attempt. The budget is per
process; several `serve` processes sharing one robot still meet the platform's own limit answer, which is
retried like any rate limit.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable


class Window:
    def __init__(self, limit: int, seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.seconds, self.now = limit, seconds, now
        self.sent: deque[float] = deque()

    def wait(self) -> float:
        """0 when a send may go now (and it is counted); else the seconds until a slot frees."""
        t = self.now()
        while self.sent and self.sent[0] <= t - self.seconds:
            self.sent.popleft()
        if len(self.sent) < self.limit:
            self.sent.append(t)
            return 0.0
        return self.sent[0] + self.seconds - t


class Budget:
    """Several windows at once (Feishu: 5 a second and 100 a minute); a send takes a slot in all or none."""

    def __init__(self, *windows: tuple[int, float], now: Callable[[], float] = time.monotonic) -> None:
        self.windows = [Window(limit, seconds, now) for limit, seconds in windows]

    def set_clock(self, now: Callable[[], float]) -> None:
        for w in self.windows:
            w.now = now

    def wait(self) -> float:
        waits = [w.wait() for w in self.windows]
        if any(waits):  # give back the slots the others took: this send does not happen now
            for w, waited in zip(self.windows, waits):
                if not waited:
                    w.sent.pop()
        return max(waits, default=0.0)  # no windows (a Telegram private chat): never waits
