"""What request handlers share: the world, the state, the store and the knobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from watchd.emulator.faults import Faults, Throttle
from watchd.emulator.objects import ObjectStore
from watchd.emulator.signing import Signer
from watchd.emulator.state import EmulatorState
from watchd.emulator.world import World


@dataclass
class Context:
    """Shared by both servers' handlers; ``s3_base_url`` is set once the S3 port is bound."""

    world: World
    state: EmulatorState
    store: ObjectStore
    signer: Signer
    faults: Faults
    throttle: Throttle
    stop: threading.Event
    s3_base_url: str = ""
    clock: Callable[[], float] = field(default=time.time)
