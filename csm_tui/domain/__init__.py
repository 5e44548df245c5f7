"""csm_tui.domain: pure rules, plain data in and out (docs/ARCHITECTURE.md).

models (inputs, rules, scores, band symbols, `plain`), scoring (health and drivers), lifecycle
(stage and why), tiers (coverage tiers, cadences), history (trend, sustained drop), ranking
(attention priority and chips), segments (saved dynamic filters); metrics and cohorts (portfolio).
Nothing here imports the rest of the package, reads a clock, or does I/O.
"""
