import pytest
import yaml

from slidercaptcha.config import ConfigError, load_config

SPEC_CONFIG = "config/training_config.yaml"


def test_spec_config_has_spec_values():
    cfg = load_config(SPEC_CONFIG)
    t = cfg.training
    assert (t.optimizer.lr, t.optimizer.betas, t.optimizer.eps, t.optimizer.weight_decay) == (3e-4, [0.9, 0.999], 1e-8, 0.05)
    s = t.scheduler
    assert (s.T_0, s.T_mult, s.eta_min, s.warmup_epochs, s.warmup_lr) == (10, 2, 3e-6, 5, 1e-5)
    assert (t.batch_size, t.num_epochs, t.gradient_clip) == (16, 160, 1.0)
    assert (t.ema.enabled, t.ema.decay, t.ema.update_interval) == (True, 0.9997, 1)
    assert t.augmentation.confusing_gap_prob == 0.3 and t.augmentation.gaussian_blur == [0, 2]
    assert (cfg.loss.heatmap.alpha, cfg.loss.heatmap.beta, cfg.loss.angle.weight) == (2, 4, 0.5)
    assert cfg.validation.metrics == ["mae", "accuracy@5px", "accuracy@3px"]
    assert (cfg.checkpoints.save_dir, cfg.checkpoints.keep_last) == ("checkpoints/1.1.0", 5)


def test_every_spec_key_is_in_the_yaml():
    data = yaml.safe_load(open(SPEC_CONFIG))
    for path in ["model.name", "model.input_channels", "training.optimizer.type", "training.scheduler.T_0",
                 "training.ema.decay", "training.augmentation.random_rotate", "training.augmentation.gap_highlight_prob",
                 "loss.heatmap.type", "loss.offset.weight", "loss.angle.type", "validation.interval",
                 "checkpoints.save_interval", "checkpoints.save_best"]:
        node = data
        for part in path.split("."):
            node = node[part]


@pytest.mark.parametrize("override, fragment", [
    ("training.optimizer.lr=-1", "training.optimizer.lr"),
    ("training.ema.decay=1.0", "training.ema.decay"),
    ("training.batch_size=abc", "training.batch_size"),
    ("model.variant=resnet", "model.variant"),
])
def test_bad_values_name_the_key(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(SPEC_CONFIG, [override])


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        load_config(SPEC_CONFIG, ["training.batchsize=8"])
    assert "training.batchsize" in str(err.value) and "batch_size" in str(err.value)


def test_overrides_reach_any_key():
    cfg = load_config(SPEC_CONFIG, ["training.batch_size=8", "training.scheduler.T_mult=1", "data.on_the_fly=true"])
    assert cfg.training.batch_size == 8 and cfg.training.scheduler.T_mult == 1 and cfg.data.on_the_fly


def test_typo_in_file_is_reported(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("training:\n  optimzer:\n    lr: 1e-3\n")
    with pytest.raises(ConfigError, match="training.optimzer"):
        load_config(bad)


def test_quickstart_recipe_loads_from_any_folder(tmp_path, monkeypatch):
    """`slidercaptcha quickstart` must work outside a checkout: its recipe ships in the package."""
    import argparse

    from slidercaptcha.quickstart import add_arguments

    monkeypatch.chdir(tmp_path)
    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = load_config(p.parse_args([]).config)
    assert cfg.model.variant == "lite-hrnet-18-fpn-s"
    assert list(cfg.model.input_size) == [128, 256]
