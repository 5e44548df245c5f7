"""csm_tui.domain: see DESIGN.md section 2."""
