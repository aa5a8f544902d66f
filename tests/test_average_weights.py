"""scripts/average_weights.py: a weighted mean of checkpoints' weights that every command loads."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
import torch

from slidercaptcha.checkpoint import load_model, save_checkpoint
from slidercaptcha.config import config_from_dict
from slidercaptcha.model import model_from_config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "average_weights.py"


def run(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *args])
    runpy.run_path(str(SCRIPT), run_name="__main__")


@pytest.fixture
def two_checkpoints(tmp_path):
    config = config_from_dict({"model": {"variant": "lite-hrnet-18-fpn-s"}})
    paths, states = [], []
    for seed in (0, 1):
        torch.manual_seed(seed)
        state = model_from_config(config.model).state_dict()
        path = tmp_path / f"run{seed}.pth"
        save_checkpoint(path, {"model_state_dict": state, "ema_state_dict": state, "config": config.to_dict()})
        paths.append(path)
        states.append(state)
    return paths, states


def test_weighted_mean_of_floats_loads_as_a_model(two_checkpoints, tmp_path, monkeypatch):
    (a, b), (sa, sb) = two_checkpoints
    out = tmp_path / "mix.pth"
    run(monkeypatch, "--out", str(out), f"{a}:0.25", f"{b}:0.75")
    model, _ = load_model(out)
    mixed = model.state_dict()
    for name, value in sa.items():
        if value.is_floating_point():
            torch.testing.assert_close(mixed[name], 0.25 * value + 0.75 * sb[name])
        else:  # e.g. BatchNorm's num_batches_tracked: the first checkpoint's
            assert torch.equal(mixed[name], value)
    assert any(not torch.equal(sa[n], sb[n]) for n in sa)  # the two differ, so the mean is a real test


def test_weights_must_sum_to_one_and_be_given_to_all_or_none(two_checkpoints, tmp_path, monkeypatch):
    (a, b), _ = two_checkpoints
    with pytest.raises(SystemExit, match="sum to 1"):
        run(monkeypatch, "--out", str(tmp_path / "x.pth"), f"{a}:0.5", f"{b}:0.6")
    with pytest.raises(SystemExit, match="every checkpoint or to none"):
        run(monkeypatch, "--out", str(tmp_path / "x.pth"), f"{a}:0.5", str(b))
    assert not (tmp_path / "x.pth").exists()


def test_input_size_sets_the_size_the_mean_runs_at(two_checkpoints, tmp_path, monkeypatch):
    (a, b), _ = two_checkpoints
    out = tmp_path / "mix.pth"
    run(monkeypatch, "--out", str(out), "--input-size", "224", "448", str(a), str(b))
    model, _ = load_model(out)
    assert tuple(model.input_size) == (224, 448)
    run(monkeypatch, "--out", str(out), str(a), str(b))  # without it: the first checkpoint's size
    assert tuple(load_model(out)[0].input_size) != (224, 448)
