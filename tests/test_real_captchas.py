"""The shipped solver on real captchas: 30 npc captchas (tests/data/real/npc, MIT, see its README).

Ten per set: GeeTest (tight pieces), "tricky" (several hollows of the piece's shape at other
rotations, full-height strip pieces) and "tricky hard" (the same with JPEG backgrounds).
The floor is what the solver solves today (``pytest -s`` prints it): a change that solves
fewer real captchas fails here, whatever it does to synthetic figures.
"""

from pathlib import Path

import numpy as np
import pytest

from slidercaptcha.data.labels import read_npc
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.backends import PACKAGE_WEIGHTS
from slidercaptcha.metrics import x_error_summary

NPC = Path(__file__).parent / "data" / "real" / "npc"
FLOOR = 100.0  # % of the 30 within 5 px of the gap centre's x: 30/30 (19/30 before the full-resolution matcher)

pytestmark = pytest.mark.skipif(not (PACKAGE_WEIGHTS / "default_int8.onnx").is_file(),
                                reason="no model shipped in src/slidercaptcha/weights")


def test_shipped_solver_solves_real_npc_captchas():
    records, skipped = read_npc(NPC)
    assert len(records) == 30 and not skipped
    solver = SliderSolver.load()
    signed = np.array([solver.solve(r.file, piece=NPC / r.meta["piece_file"]).gap[0] - r.gap[0]
                       for r in records])
    within = x_error_summary(signed)["within_5px"]
    misses = {r.file.parent.name + "/" + r.file.name: round(float(e), 1)
              for r, e in zip(records, signed, strict=True) if abs(e) > 5}
    print(f"real npc: {within:.1f}% within 5 px; misses {misses}")
    assert within >= FLOOR, f"{within:.1f}% within 5 px (floor {FLOOR}%); misses {misses}"
