"""Atomic writes (checkpoints, manifests, reports)."""

import os

from slidercaptcha.utils.io import atomic_write_text


def test_atomic_writes_get_the_mode_a_plain_open_gives(tmp_path):
    """mkstemp's 0600 would leave checkpoints and reports unreadable to other users."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = atomic_write_text(tmp_path / "atomic.txt", "x")
    assert os.stat(atomic).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
