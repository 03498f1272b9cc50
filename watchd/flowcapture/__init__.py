"""The Flow Capture API client: wire format, endpoints, errors, transfers."""

from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import FlowCaptureError

__all__ = ["FlowCaptureClient", "FlowCaptureError"]
