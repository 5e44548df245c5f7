"""csm_tui.sync: see DESIGN.md section 2."""
