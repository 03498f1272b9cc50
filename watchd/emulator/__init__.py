"""A local emulator of the Autodesk Flow Capture (formerly Moxion) API with an
S3-compatible object store and fault injection.

It shares no code with :mod:`watchd.flowcapture`: both are written from the
vendor document, so a wrong guess in one is caught by the other.
"""

from watchd.emulator.faults import FaultConfigError
from watchd.emulator.server import Emulator
from watchd.emulator.world import Folder, Grant, Production, User, World, demo_world
from watchd.emulator.world_yaml import WorldError, load_world

__all__ = [
    "Emulator",
    "FaultConfigError",
    "Folder",
    "Grant",
    "Production",
    "User",
    "World",
    "WorldError",
    "demo_world",
    "load_world",
]
