"""csm-tui: a keyboard-driven terminal app for Customer Success Managers."""

from typing import Any


def __getattr__(name: str) -> Any:
    # The version is read from the installed metadata only when asked for: importing
    # importlib.metadata costs ~40 ms, which every start of the app would otherwise pay.
    if name != "__version__":
        raise AttributeError(f"module 'csm_tui' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("csm-tui")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found
