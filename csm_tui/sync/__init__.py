"""csm_tui.sync: see docs/ARCHITECTURE.md."""
