"""TensorBoard panels of the spec: scalars, custom layout, figures, histograms, graph, PR curve."""

from __future__ import annotations

import contextlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from slidercaptcha.model import TupleOutputs  # noqa: E402

CUSTOM_LAYOUT = {
    "训练监控": {
        "损失函数": ["Multiline", ["Loss/train", "Loss/val"]],
        "学习率": ["Multiline", ["Learning_Rate"]],
    },
    "性能指标": {
        "MAE": ["Multiline", ["Metrics/MAE", "MAE_Components/gap", "MAE_Components/slider"]],
        "精度": ["Multiline", ["Metrics/Accuracy_3px", "Metrics/Accuracy_5px"]],
    },
    "模型分析": {
        "梯度范数": ["Multiline", ["Gradients/norm"]],
        "权重更新": ["Multiline", ["Weights/update_ratio"]],
    },
}


def new_writer(log_dir: str) -> SummaryWriter:
    writer = SummaryWriter(log_dir)
    writer.add_custom_scalars(CUSTOM_LAYOUT)
    return writer


def add_graph(writer: SummaryWriter, model: nn.Module, input_size: tuple[int, int]) -> None:
    was_training = model.training
    model.eval()
    writer.add_graph(TupleOutputs(model).eval(), torch.zeros(1, 4, *input_size, device=next(model.parameters()).device))
    model.train(was_training)


def add_epoch_scalars(writer: SummaryWriter, step: int, train_loss: float, val_loss: float | None,
                      metrics: dict | None) -> None:
    if val_loss is not None:
        writer.add_scalar("Loss/val", val_loss, step)
        writer.add_scalars("Loss_Comparison", {"train": train_loss, "validation": val_loss}, step)
    if metrics:
        writer.add_scalar("Metrics/MAE", metrics["mae"], step)
        writer.add_scalar("Metrics/Accuracy_5px", metrics["accuracy@5px"], step)
        writer.add_scalar("Metrics/Accuracy_3px", metrics["accuracy@3px"], step)
        writer.add_scalar("Metrics/Accuracy_10px", metrics["accuracy@10px"], step)
        if metrics.get("angle_error") is not None:
            writer.add_scalar("Metrics/Angle_error", metrics["angle_error"], step)
        components = {"gap": metrics["gap_mae"], "total": metrics["mae"]}
        if metrics.get("slider_mae") is not None:
            components["slider"] = metrics["slider_mae"]
        writer.add_scalars("MAE_Components", components, step)


def prediction_figure(first: dict, max_samples: int = 4) -> plt.Figure:
    """Input with true (o) and predicted (x) gap points, true and predicted gap heatmaps."""
    batch, out, dec = first["batch"], first["outputs"], first["decoded"]
    n = min(max_samples, len(batch["image"]))
    fig, axes = plt.subplots(n, 3, figsize=(12, 3 * n), squeeze=False)
    boxes = batch["box"].numpy()
    for i in range(n):
        img = batch["image"][i, :3].numpy().transpose(1, 2, 0)
        sx, sy, px, py = boxes[i, :4]
        true_xy = batch["gap_xy"][i].numpy() * (sx, sy) + (px, py)  # original → canvas
        pred_xy = dec["gap"][i].numpy() * (sx, sy) + (px, py)
        axes[i, 0].imshow(np.clip(img, 0, 1))
        axes[i, 0].plot(*true_xy, "go", markersize=10, label="truth")
        axes[i, 0].plot(*pred_xy, "rx", markersize=10, label="prediction")
        axes[i, 0].set_title("input")
        axes[i, 0].legend(loc="lower right", fontsize=7)
        axes[i, 1].imshow(batch["heatmap_gap"][i, 0].numpy(), cmap="hot", vmin=0, vmax=1)
        axes[i, 1].set_title("true gap heatmap")
        axes[i, 2].imshow(out["heatmap_gap"][i, 0].float().numpy(), cmap="hot", vmin=0, vmax=1)
        axes[i, 2].set_title("predicted gap heatmap")
        for ax in axes[i]:
            ax.axis("off")
    fig.tight_layout()
    return fig


def add_predictions(writer: SummaryWriter, first: dict, step: int) -> None:
    fig = prediction_figure(first)
    writer.add_figure("Predictions", fig, step)
    plt.close(fig)


def add_pr_curve(writer: SummaryWriter, first: dict, step: int) -> None:
    """PR curve of gap-heatmap cells: positives are the true peak cells on the image."""
    batch, out = first["batch"], first["outputs"]
    valid = batch["valid"].bool()
    labels = batch["peak_gap"][valid] > 0.5
    writer.add_pr_curve("PR_Curve", labels, out["heatmap_gap"].float()[valid], step)


def add_histograms(writer: SummaryWriter, model: nn.Module, step: int) -> None:
    for name, param in model.named_parameters():
        if param.requires_grad:
            writer.add_histogram(f"Weights/{name}", param.detach().float().cpu(), step)
            if param.grad is not None:
                writer.add_histogram(f"Gradients/{name}", param.grad.float().cpu(), step)


@contextlib.contextmanager
def activation_histograms(writer: SummaryWriter, model: nn.Module, step: int):
    """Log each stage's output distribution during one forward pass (bounded: a few tensors)."""
    handles = []
    stages = model.stages() if hasattr(model, "stages") else {}

    def hook(name):
        def fn(_module, _inp, output):
            tensors = output if isinstance(output, list | tuple) else list(output.values()) if isinstance(output, dict) else [output]
            flat = torch.cat([t.detach().float().flatten()[:100_000].cpu() for t in tensors])
            writer.add_histogram(f"Activations/{name}", flat, step)
        return fn

    for name, module in stages.items():
        handles.append(module.register_forward_hook(hook(name)))
    try:
        yield
    finally:
        for h in handles:
            h.remove()
