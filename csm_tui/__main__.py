"""`python -m csm_tui` is the same as the `csm-tui` command."""

from csm_tui.cli import main

raise SystemExit(main())
