"""The soak test runs on the end-to-end fixtures (emulator, site)."""

from tests.e2e.conftest import emulator, site

__all__ = ["emulator", "site"]
