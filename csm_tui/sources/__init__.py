"""csm_tui.sources: see DESIGN.md section 2."""
