"""Stateful fake HubSpot and PostHog APIs and the demo portfolio generator (docs/ARCHITECTURE.md).

- ``portfolio.generate_portfolio``: a deterministic demo book (``Portfolio``);
- ``hubspot.FakeHubSpot``, ``posthog.FakePostHog``: ``handler(httpx.Request) -> httpx.Response``;
- ``router.FakeApis``: both behind one handler, ``transport()`` and ``serve()`` on loopback;
- ``faults.Faults``: scripted failures (statuses, transport errors, lost responses).

Nothing here is imported eagerly, so importing ``csm_tui.fakes`` costs nothing.
"""
