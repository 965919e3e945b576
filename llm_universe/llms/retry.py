"""Retries with exponential backoff, shared by every chat and embedding provider.

The SDK clients are created with their own retries turned off, so this module is the only place
that decides when to try a request again: only before any part of the answer has arrived (a
stream that has started is never restarted, since the user has already seen its text).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Why a failed request may be retried: returns the server's Retry-After in seconds (0.0 when it sent
# none), or None when the error must not be retried.
RetryCheck = Callable[[Exception], "float | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before trying a request again.

    `max_retries` counts the extra attempts (0 disables retries). The wait before retry n is
    `initial_delay * 2**(n-1)` seconds with up to 25 % random jitter, or the server's Retry-After
    when that is longer, and never more than `max_delay` seconds.
    """

    max_retries: int = 2
    initial_delay: float = 1.0
    max_delay: float = 20.0

    def delay(self, retry_number: int, retry_after: float = 0.0) -> float:
        """Return the seconds to wait before retry `retry_number` (1-based)."""
        backoff = self.initial_delay * 2 ** (retry_number - 1) * random.uniform(0.75, 1.0)
        return min(self.max_delay, max(backoff, retry_after))


def call_with_retry(call: Callable[[], T], policy: RetryPolicy, check: RetryCheck, description: str) -> T:
    """Return `call()`, retrying it per `policy` while `check` reports the error as retryable.

    The last error is raised unchanged once the retries are used up.
    """
    retry_number = 0
    while True:
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - `check` decides; everything else is re-raised
            retry_number = _next_retry(error, retry_number, policy, check, description)


def stream_with_retry(start: Callable[[], Iterator[T]], policy: RetryPolicy, check: RetryCheck,
                      description: str) -> Iterator[T]:
    """Yield the items of `start()`, starting it again per `policy` only until its first item arrives.

    A failure after the first item is raised unchanged, because a partial answer was already shown.
    """
    retry_number = 0
    while True:
        iterator = start()
        try:
            first = next(iterator)
        except StopIteration:
            return
        except Exception as error:  # noqa: BLE001 - `check` decides; everything else is re-raised
            retry_number = _next_retry(error, retry_number, policy, check, description)
            continue
        break
    yield first
    yield from iterator


def _next_retry(error: Exception, retry_number: int, policy: RetryPolicy, check: RetryCheck,
                description: str) -> int:
    """Sleep before the next attempt and return its number, or re-raise `error` when none is left."""
    retry_after = check(error)
    if retry_after is None or retry_number >= policy.max_retries:
        raise error
    retry_number += 1
    wait = policy.delay(retry_number, retry_after)
    logger.warning("%s failed with %s; retry %d of %d in %.1f s", description, type(error).__name__,
                   retry_number, policy.max_retries, wait)
    time.sleep(wait)
    return retry_number
