"""csm_tui.store: see docs/ARCHITECTURE.md."""
