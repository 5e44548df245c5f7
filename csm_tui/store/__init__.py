"""csm_tui.store: see DESIGN.md section 2."""
