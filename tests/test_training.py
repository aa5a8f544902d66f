"""Training engine: checkpoints, exact resume, interrupts, best-model selection, EMA, TensorBoard."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from slidercaptcha.checkpoint import SPEC_KEYS, load_checkpoint
from slidercaptcha.cli import main as cli
from slidercaptcha.config import load_config
from slidercaptcha.train import engine


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    assert cli(["generate", "--num_images", "40", "--output_dir", str(root), "--seed", "3", "--mode", "mixed",
                "--enable_confusing_gaps", "--enable_rotation"]) == 0
    assert cli(["split", "--input_dir", str(root), "--train_ratio", "0.7", "--seed", "0"]) == 0
    return root


def tiny_overrides(data: Path, out: Path, epochs: int = 2, **extra) -> list[str]:
    sets = {
        "model.variant": "lite-hrnet-18-fpn-s", "model.input_size": "[64, 128]",
        "training.batch_size": 4, "training.num_epochs": epochs, "training.max_steps_per_epoch": 2,
        "training.scheduler.warmup_epochs": 1, "training.ema.decay": 0.9,
        "data.train_manifest": str(data / "train.jsonl"), "data.val_manifest": str(data / "val.jsonl"),
        "data.num_workers": 0, "checkpoints.save_dir": str(out / "ckpt"), "checkpoints.keep_last": 5,
        "logging.log_dir": str(out / "logs"), "logging.tensorboard_dir": str(out / "runs"),
        "logging.progress_bar": "false", "logging.log_every_steps": 1, "logging.figure_interval": 1,
    }
    sets.update(extra)
    return [f"{k}={v}" for k, v in sets.items()]


@pytest.fixture(scope="module")
def tiny_run(tiny_data, tmp_path_factory) -> tuple[Path, dict]:
    """Two short epochs with the spec config (small model and input to keep it quick)."""
    out = tmp_path_factory.mktemp("run")
    cfg = load_config("config/training_config.yaml", tiny_overrides(tiny_data, out))
    return out, engine.train(cfg)


def test_tiny_run_writes_checkpoints_log_and_tensorboard(tiny_run):
    tmp_path, summary = tiny_run
    ckpt_dir = tmp_path / "ckpt"
    for name in ("epoch_001.pth", "epoch_002.pth", "best_model.pth", "last.pth", "config.yaml", "history.json"):
        assert (ckpt_dir / name).is_file(), name
    ckpt = load_checkpoint(ckpt_dir / "last.pth")
    assert set(SPEC_KEYS) <= set(ckpt)
    assert set(ckpt["metrics"]) >= {"train_loss", "val_loss", "val_mae", "val_acc_5px", "val_acc_3px", "best_mae"}
    assert {"torch", "numpy", "random"} <= set(ckpt["random_state"])
    assert yaml.safe_load((ckpt_dir / "config.yaml").read_text())["model"]["variant"] == "lite-hrnet-18-fpn-s"
    log_lines = [ln for f in (tmp_path / "logs").glob("training_*.log") for ln in f.read_text().splitlines()]
    epoch_lines = [ln for ln in log_lines if "Epoch " in ln]
    assert len(epoch_lines) == 2 and all(k in epoch_lines[0] for k in ("Loss", "MAE", "Acc@5px", "lr"))
    assert summary["epochs"] == 2

    # The history's learning rate is the one the epoch's last step used, not the next one.
    from slidercaptcha.train.schedule import lr_at

    cfg = load_config("config/training_config.yaml", ["training.scheduler.warmup_epochs=1"])  # as tiny_run
    history = json.loads((ckpt_dir / "history.json").read_text())
    for record in history["epochs"]:
        last_step = record["epoch"] * 2 - 1  # 2 steps per epoch (max_steps_per_epoch)
        assert record["lr"] == pytest.approx(lr_at(last_step, cfg.training.optimizer.lr, 2, cfg.training.scheduler))

    # EMA BatchNorm buffers are averaged, so they differ from the raw model's.
    raw, ema = ckpt["model_state_dict"], ckpt["ema_state_dict"]
    bn = [k for k in raw if k.endswith("running_mean")]
    assert bn and any(not torch.equal(raw[k], ema[k]) for k in bn)

    # Every TensorBoard tag of the spec is in the event file.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = next((tmp_path / "runs").glob("exp_*"))
    acc = EventAccumulator(str(run_dir), size_guidance={"histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = set(tags["scalars"])
    for tag in ("Loss/train", "Loss/val", "Metrics/MAE", "Metrics/Accuracy_5px", "Metrics/Accuracy_3px",
                "Learning_Rate", "Gradients/norm", "Weights/update_ratio"):
        assert tag in scalars, tag
    sub = {p.name for p in run_dir.iterdir() if p.is_dir()}
    assert {"Loss_Comparison_train", "Loss_Comparison_validation", "MAE_Components_gap", "MAE_Components_total"} <= sub
    assert "Predictions" in tags["images"]
    assert any(t.startswith("Weights/") for t in tags["histograms"])
    assert any(t.startswith("Gradients/") for t in tags["histograms"])
    assert any(t.startswith("Activations/") for t in tags["histograms"])
    assert tags["graph"]
    assert "custom_scalars__config__" in tags["tensors"]
    assert "PR_Curve" in tags["tensors"]


def test_end_to_end_generate_train_evaluate_report(tiny_data, tiny_run):
    run_dir, _ = tiny_run
    results = run_dir / "results"
    assert cli(["evaluate", "--checkpoint", str(run_dir / "ckpt" / "best_model.pth"), "--data",
                str(tiny_data / "val.jsonl"), "--name", "e2e", "--out", str(results)]) == 0
    assert cli(["report", "--results", str(results / "e2e"), "--run", str(run_dir / "ckpt"), "--dpi", "40"]) == 0
    metrics = json.loads((results / "e2e" / "metrics.json").read_text())
    n_val = sum(1 for _ in open(tiny_data / "val.jsonl"))
    assert metrics["overall"]["n"] == n_val
    report = (results / "e2e" / "evaluation_report.md").read_text()
    assert f"{metrics['overall']['mae']:.2f}" in report
    for png in ("training_curves.png", "error_distribution.png", "confusion_matrix.png", "worst_predictions.png"):
        assert (results / "e2e" / png).stat().st_size > 0


def _final_weights(path: Path) -> dict:
    return load_checkpoint(path)["model_state_dict"]


def test_resume_is_exact(tiny_data, tmp_path):
    straight = load_config("config/training_config.yaml", tiny_overrides(tiny_data, tmp_path / "a"))
    engine.train(straight)
    first = load_config("config/training_config.yaml", tiny_overrides(tiny_data, tmp_path / "b", epochs=1))
    engine.train(first)
    second = load_config("config/training_config.yaml", tiny_overrides(tiny_data, tmp_path / "b"))
    engine.train(second, resume_from=tmp_path / "b" / "ckpt" / "last.pth")
    a, b = _final_weights(tmp_path / "a/ckpt/last.pth"), _final_weights(tmp_path / "b/ckpt/last.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ema_a = load_checkpoint(tmp_path / "a/ckpt/last.pth")["ema_state_dict"]
    ema_b = load_checkpoint(tmp_path / "b/ckpt/last.pth")["ema_state_dict"]
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)


def test_freed_memory_goes_back_before_every_loader_forks_its_workers(tiny_data, tmp_path, monkeypatch):
    """Each train epoch's loader and each validation pass start right after the heap is trimmed,
    so their workers do not fork (and copy) the trainer's freed activations."""
    events = []
    iterate = engine.DataLoader.__iter__

    def recorded(loader):
        events.append("iterate")
        return iterate(loader)

    monkeypatch.setattr(engine.DataLoader, "__iter__", recorded)
    monkeypatch.setattr(engine, "release_free_memory", lambda: events.append("trim"))
    cfg = load_config("config/training_config.yaml", tiny_overrides(tiny_data, tmp_path))
    engine.train(cfg)
    assert events.count("iterate") >= 4  # two epochs, each trained and validated
    assert all(i > 0 and events[i - 1] == "trim" for i, e in enumerate(events) if e == "iterate"), events


def test_best_model_follows_val_mae(tiny_data, tmp_path, monkeypatch):
    maes = iter([5.0, 3.0, 4.0])

    def fake_validate(*args, **kwargs):
        mae = next(maes)
        m = {"mae": mae, "accuracy@3px": 0.0, "accuracy@5px": 0.0, "accuracy@10px": 0.0, "gap_mae": mae,
             "slider_mae": mae, "angle_error": None}
        return {"val_loss": 1.0, "val_mae": mae, "val_acc_5px": 0.0, "val_acc_3px": 0.0, "val_metrics": m}

    monkeypatch.setattr(engine, "validate", fake_validate)
    cfg = load_config("config/training_config.yaml", tiny_overrides(tiny_data, tmp_path, epochs=3))
    engine.train(cfg)
    best = load_checkpoint(tmp_path / "ckpt/best_model.pth")
    assert best["epoch"] == 2 and best["metrics"]["val_mae"] == 3.0
    assert load_checkpoint(tmp_path / "ckpt/last.pth")["best_mae"] == 3.0


def test_nan_loss_stops_with_message_and_saves_last(tiny_data, tmp_path, monkeypatch):
    real_loss, calls = engine.compute_loss, []

    def loss_turning_nan(out, targets, cfg):
        calls.append(1)
        total, parts = real_loss(out, targets, cfg)
        return (total * float("nan") if len(calls) == 3 else total), parts

    monkeypatch.setattr(engine, "compute_loss", loss_turning_nan)
    cfg = load_config("config/training_config.yaml", tiny_overrides(tiny_data, tmp_path))
    with pytest.raises(engine.TrainingError, match="last.pth saved"):
        engine.train(cfg)
    ckpt = load_checkpoint(tmp_path / "ckpt/last.pth")
    assert ckpt["global_step"] == 2 and all(torch.isfinite(v).all() for v in ckpt["model_state_dict"].values())


def test_sigint_leaves_a_resumable_last_checkpoint(tiny_data, tmp_path):
    args = ["--config", "config/training_config.yaml"]
    for o in tiny_overrides(tiny_data, tmp_path, epochs=200,
                            **{"training.max_steps_per_epoch": 0, "data.num_workers": 1}):
        args += ["--set", o]
    proc = subprocess.Popen([sys.executable, "-m", "slidercaptcha", "train", *args], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = tmp_path / "ckpt" / "last.pth"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline:  # wait for the first epoch to finish
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: the loader's worker gets it too
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "interrupted" in out and out.count("signal 2 received") == 1, out
    ckpt = load_checkpoint(last)
    resumed = load_config("config/training_config.yaml",
                          tiny_overrides(tiny_data, tmp_path, epochs=ckpt["epoch"] + 1,
                                         **{"training.max_steps_per_epoch": 0}))
    summary = engine.train(resumed, resume_from=last)
    assert summary["epochs"] == ckpt["epoch"] + 1


def test_train_without_config_outside_a_checkout_uses_the_spec_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/training_config.yaml here, as after a pip install
    parser = argparse.ArgumentParser()
    engine.add_arguments(parser)
    with pytest.raises(FileNotFoundError, match="data.train_manifest: data/captchas/train.jsonl not found.*generate"):
        engine.run(parser.parse_args([]))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs torchrun")
def test_two_process_gloo_run_keeps_ranks_identical(tiny_data, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(
        "import sys, torch\n"
        "import torch.distributed as d\n"
        "from slidercaptcha.config import load_config\n"
        "from slidercaptcha.train import engine\n"
        "cfg = load_config('config/training_config.yaml', sys.argv[2:])\n"
        "summary = engine.train(cfg, distributed=True)\n"
        "import os\n"
        "torch.save(summary['model'].state_dict(), f\"{sys.argv[1]}/rank{os.environ['RANK']}.pt\")\n"
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
           str(script), str(tmp_path), *tiny_overrides(tiny_data, tmp_path, epochs=1)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert (tmp_path / "ckpt" / "last.pth").is_file()


def test_amp_bf16_autocast_trains_on_cpu(tiny_data, tmp_path):
    cfg = load_config("config/training_config.yaml",
                      tiny_overrides(tiny_data, tmp_path, epochs=1, **{"training.amp": "true"}))
    engine.train(cfg)
    ckpt = load_checkpoint(tmp_path / "ckpt" / "last.pth")
    assert ckpt["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model_state_dict"].values() if v.is_floating_point())


def test_frozen_parts_keep_their_weights_and_batchnorm_statistics(tiny_data, tiny_run, tmp_path):
    from slidercaptcha.checkpoint import load_weights

    start = tiny_run[0] / "ckpt" / "last.pth"
    backbone = ["stem", "stage2", "stage3", "stage4"]
    cfg = load_config("config/training_config.yaml",
                      tiny_overrides(tiny_data, tmp_path, epochs=1, **{"training.freeze": f"[{','.join(backbone)}]"}))
    engine.train(cfg, init_from=start)
    before, after = load_weights(start), load_checkpoint(tmp_path / "ckpt" / "last.pth")["model_state_dict"]
    frozen = [k for k in before if k.split(".")[0] in backbone and not k.endswith("num_batches_tracked")]
    trained = [k for k in before if k.split(".")[0] not in backbone and before[k].is_floating_point()]
    assert any(k.endswith("running_mean") for k in frozen)
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in trained)


def test_freezing_an_unknown_part_names_the_parts(tiny_data, tmp_path):
    from slidercaptcha.config import ConfigError

    cfg = load_config("config/training_config.yaml",
                      tiny_overrides(tiny_data, tmp_path, epochs=1, **{"training.freeze": "[backbone]"}))
    with pytest.raises(ConfigError, match=r"unknown model part\(s\) \['backbone'\].*'stem'.*'head'"):
        engine.train(cfg)


def test_bad_checkpoints_are_refused_with_a_message(tiny_run, tmp_path):
    """Truncated, foreign and unsafe files: a CheckpointError naming the file and the reason,
    never torch's advice to load with weights_only=False."""
    import pickle

    from slidercaptcha.checkpoint import CheckpointError

    out, _ = tiny_run
    whole = (out / "ckpt" / "last.pth").read_bytes()
    truncated, foreign, unsafe = tmp_path / "truncated.pth", tmp_path / "foreign.pth", tmp_path / "unsafe.pth"
    truncated.write_bytes(whole[: len(whole) // 2])
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    torch.save({"model_state_dict": {}, "hook": pickle.Pickler}, unsafe)  # a class: refused by weights_only
    for path, reason in ((truncated, "truncated or corrupt"), (foreign, "not a PyTorch checkpoint"),
                         (unsafe, "more than tensors")):
        with pytest.raises(CheckpointError, match=reason) as err:
            load_checkpoint(path)
        assert str(path) in str(err.value) and "weights_only" not in str(err.value)
