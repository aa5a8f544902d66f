"""Drawing names by weight from a seeded generator (shapes, gap looks, backgrounds, styles)."""

from __future__ import annotations

import numpy as np


def weighted_choice(table: dict[str, float], rng: np.random.Generator) -> str:
    """One key of ``table``, with probability proportional to its value."""
    names = list(table)
    w = np.array([table[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]
