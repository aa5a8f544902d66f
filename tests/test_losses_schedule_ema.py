import math

import pytest
import torch
from torch import nn

from slidercaptcha.config import SchedulerConfig
from slidercaptcha.losses import focal_loss
from slidercaptcha.train.ema import ModelEMA
from slidercaptcha.train.schedule import WarmupCosineRestarts, lr_at


def test_focal_loss_matches_hand_computation():
    pred = torch.tensor([[[[0.8, 0.3], [0.1, 0.5]]]])
    gt = torch.tensor([[[[1.0, 0.5], [0.0, 0.2]]]])
    valid = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]])  # last cell is padding: ignored
    # positive: log(0.8)·0.2²; negatives: log(0.7)·0.3²·0.5⁴ and log(0.9)·0.1²·1⁴; one positive.
    expected = -(math.log(0.8) * 0.04 + math.log(0.7) * 0.09 * 0.0625 + math.log(0.9) * 0.01)
    assert focal_loss(pred, gt, valid, alpha=2, beta=4).item() == pytest.approx(expected, rel=1e-5)


def test_schedule_warmup_then_cosine_restarts():
    cfg = SchedulerConfig(T_0=2, T_mult=2, eta_min=1e-6, warmup_epochs=1, warmup_lr=1e-5)
    spe, base = 10, 1e-3
    assert lr_at(0, base, spe, cfg) == pytest.approx(1e-5)
    assert lr_at(5, base, spe, cfg) == pytest.approx(1e-5 + (base - 1e-5) * 0.5)
    assert lr_at(10, base, spe, cfg) == pytest.approx(base)  # warm-up done: cycle starts at the top
    # Restarts at 2 and then 2+4 epochs after warm-up: steps 30 and 70.
    assert lr_at(29, base, spe, cfg) < lr_at(30, base, spe, cfg) == pytest.approx(base)
    assert lr_at(69, base, spe, cfg) < lr_at(70, base, spe, cfg) == pytest.approx(base)
    # Matches torch's CosineAnnealingWarmRestarts at fractional epochs after warm-up.
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=1e-6)
    for step in range(10, 100, 7):
        ref.step((step - 10) / spe)
        assert lr_at(step, base, spe, cfg) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-6)


def test_scheduler_steps_per_iteration_and_resumes():
    cfg = SchedulerConfig(T_0=1, T_mult=2, eta_min=0.0, warmup_epochs=1, warmup_lr=0.0)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupCosineRestarts(opt, steps_per_epoch=4, cfg=cfg)
    for _ in range(6):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched2 = WarmupCosineRestarts(opt2, steps_per_epoch=4, cfg=cfg)
    sched2.load_state_dict(state)
    sched2.step()
    sched.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"]) == pytest.approx(lr_at(7, 1.0, 4, cfg))


def test_ema_tracks_batchnorm_statistics():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    ema = ModelEMA(model, decay=0.9)
    for step in range(1, 20):
        model.train()(torch.randn(4, 1, 3, 3) * 5 + 3)
        ema.update(model, step)
    ema_bn, raw_bn = ema.module[1], model[1]
    assert not torch.allclose(ema_bn.running_mean, torch.zeros(2))  # moved away from init
    assert not torch.allclose(ema_bn.running_mean, raw_bn.running_mean)  # averaged, not copied
    assert ema_bn.num_batches_tracked == raw_bn.num_batches_tracked
