"""The words scores are told in: components, bands and their symbols, stages, tiers.

Plain constants in a module of their own: the list and the status line need them on the first
frame, and the scoring models (some twenty frozen dataclasses, ~15 ms to create) are not needed
there.
"""

from __future__ import annotations

COMPONENTS = ("usage", "adoption", "people", "relationship", "support", "sentiment")

GREEN, YELLOW, RED = "green", "yellow", "red"
# Filled / half / empty: tell the bands apart without colour (and read as "full health").
BAND_SYMBOLS = {GREEN: "●", YELLOW: "◐", RED: "○"}

STAGES = ("Win-back", "Renewal", "Onboarding", "Expansion", "Adoption", "Retention")
TIERS = ("high-touch", "pooled", "tech-touch")
