"""csm-tui: a keyboard-driven terminal app for Customer Success Managers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("csm-tui")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
