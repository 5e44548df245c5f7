"""`csm-tui fake-api`: serve the fake HubSpot and PostHog on loopback until Ctrl-C."""

from __future__ import annotations

import argparse

from csm_tui.config import Settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Generate the demo book, serve it, and print how to point csm-tui at it."""
    from csm_tui.fakes.portfolio import generate_portfolio
    from csm_tui.fakes.router import FakeApis

    portfolio = generate_portfolio(args.accounts, args.seed)
    apis = FakeApis(portfolio, real_time=True)
    server = apis.serve(args.host, args.port)
    url = server.url
    lines = [
        f"Fake HubSpot and PostHog serving {args.accounts} accounts (seed {args.seed}) at {url}",
        "Point csm-tui at them (these are the fakes' demo tokens, not secrets):",
        f"  export CSM_TUI_CRM__BASE_URL={url}",
        f"  export CSM_TUI_CRM__TOKEN={apis.hubspot.token}",
        f"  export CSM_TUI_CRM__OWNER_EMAIL={portfolio.demo_owner_email}",
        f"  export CSM_TUI_ANALYTICS__BASE_URL={url}",
        f"  export CSM_TUI_ANALYTICS__PROJECT_ID={apis.posthog.project_id}",
        f"  export CSM_TUI_ANALYTICS__TOKEN={apis.posthog.token}",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.close()
    return 0
