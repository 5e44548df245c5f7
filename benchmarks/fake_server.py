"""The fake HubSpot and PostHog of the benchmarks, in a process of their own (as the real services
are): `python benchmarks/fake_server.py ACCOUNTS SEED TODAY`.

Prints one JSON line {"url", "hubspot_token", "posthog_token", "companies", "contacts",
"usage_rows", "weeks", "generated_s"} once it answers on loopback, then reads commands on stdin:
`change SEED` edits 1% of the CRM records (as users editing them in HubSpot) and answers
{"changed": N}; `quit` (or end of input) stops it.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import date
from typing import Any

from csm_tui.fakes.portfolio import generate_portfolio
from csm_tui.fakes.router import FakeApis

EDITS = {
    "companies": ("industry", "Benchmarks"),
    "contacts": ("jobtitle", "Benchmark lead"),
    "deals": ("amount", "12345"),
    "tickets": ("hs_ticket_priority", "HIGH"),
}


def change_one_percent(apis: Any, seed: int) -> int:
    """Edit 1% of the companies, contacts, deals and tickets; the number edited."""
    rng = random.Random(seed)
    changed = 0
    for obj_type, (prop, value) in EDITS.items():
        records = apis.portfolio.objects(obj_type)
        for rec in rng.sample(records, max(1, len(records) // 100)):
            apis.hubspot.update(obj_type, rec["id"], {prop: value})
            changed += 1
    return changed


def main() -> int:
    """Serve until told to quit."""
    accounts, seed, today = int(sys.argv[1]), int(sys.argv[2]), date.fromisoformat(sys.argv[3])
    started = time.perf_counter()
    portfolio = generate_portfolio(accounts, seed, today=today)
    generated = time.perf_counter() - started
    apis = FakeApis(portfolio, real_time=True)
    apis.hubspot.build_search_index()
    apis.posthog.encode_ahead()  # PostHog encodes on its own machines, not on the client's cores
    server = apis.serve(port=0)
    info = {
        "url": server.url,
        "hubspot_token": apis.hubspot.token,
        "posthog_token": apis.posthog.token,
        "companies": len(portfolio.companies),
        "contacts": len(portfolio.contacts),
        "usage_rows": len(portfolio.usage_weekly),
        "weeks": len(portfolio.weeks),
        "generated_s": round(generated, 2),
    }
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "change":
            changed = change_one_percent(apis, int(words[1]))
            apis.hubspot.build_search_index()  # as HubSpot's index catches up after edits
            print(json.dumps({"changed": changed}), flush=True)
    server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
