"""This machine among several ingest nodes sharing one PostgreSQL database."""

from __future__ import annotations

import re
import socket
from typing import Annotated

from pydantic import AfterValidator, Field

from watchd.config.fieldtypes import SAMPLE_COMMENTED, Duration, Model, between
from watchd.config.units import format_duration

NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _node_name(value: str) -> str:
    if not NODE_NAME.fullmatch(value):
        raise ValueError(
            "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


class NodeSettings(Model):
    """This node among several sharing one PostgreSQL database (unused on SQLite)."""

    name: Annotated[str, AfterValidator(_node_name)] = Field(
        default_factory=lambda: socket.gethostname().split(".")[0] or "watchd",
        description="this node's name, unique among the nodes sharing the database "
        "(default: the host name)",
        examples=["bay-1"],
        json_schema_extra=SAMPLE_COMMENTED,
    )
    lease: Annotated[Duration, between(2, 600, format_duration)] = Field(
        default=20.0,
        description="how long a job or folder stays this node's without a sign of life: "
        "another node takes a dead node's work over within about 1.3 times this",
    )
