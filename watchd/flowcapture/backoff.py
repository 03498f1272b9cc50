"""The one backoff rule: exponential growth, a cap, and "equal jitter" (half fixed, half random)."""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int,
    *,
    initial: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Return how long to wait before try number ``attempt + 1``.

    ``attempt`` counts the failures so far (1 after the first failure). The
    ceiling grows as ``initial * 2**(attempt-1)`` up to ``cap``; the result is
    drawn uniformly between half the ceiling and the ceiling, so many clients
    that failed together do not come back together.
    """
    if attempt < 1:
        return 0.0
    ceiling = min(cap, initial * 2.0 ** min(attempt - 1, 62))
    draw = rng.random() if rng is not None else random.random()
    return ceiling / 2 + draw * ceiling / 2
