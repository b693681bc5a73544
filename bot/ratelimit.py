"""Token buckets: a steady rate with a burst allowance, per connection or per client address."""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def allow(self) -> bool:
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def retry_after(self) -> int:
        """Whole seconds until the next token (at least 1), for messages and Retry-After."""
        self._refill()
        return max(1, math.ceil((1 - self.tokens) / self.rate))

    def _refill(self) -> None:
        moment = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (moment - self.updated) * self.rate)
        self.updated = moment


class KeyedLimiter:
    """One bucket per key (e.g. client address), keeping only the most recently seen `max_keys`."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket
