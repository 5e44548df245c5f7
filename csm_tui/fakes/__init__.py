"""csm_tui.fakes: see DESIGN.md section 2."""
