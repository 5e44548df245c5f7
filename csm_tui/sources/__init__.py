"""csm_tui.sources: see docs/ARCHITECTURE.md."""
