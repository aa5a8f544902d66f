"""The spec's ``visualize_predictions`` figure for user predictions: per image, the input with
the decoded points and boxes, and the gap and slider heatmaps in original-image coordinates."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from slidercaptcha.decode import to_original
from slidercaptcha.inference.solver import BatchOutput, SolveResult
from slidercaptcha.preprocess import STRIDE, to_rgb


def blob_box(heatmap: np.ndarray, box: torch.Tensor, point: tuple[float, float] | None) -> np.ndarray | None:
    """Bounding box (x0, y0, x1, y1, original px) of the half-peak blob around the map's maximum."""
    if point is None:
        return None
    peak = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    _, labels = cv2.connectedComponents((heatmap >= 0.5 * heatmap[peak]).astype(np.uint8))
    ys, xs = np.nonzero(labels == labels[peak])
    corners = torch.tensor([[xs.min(), ys.min()], [xs.max() + 1, ys.max() + 1]], dtype=torch.float64) * STRIDE
    return to_original(corners, box[None].expand(2, -1)).flatten().numpy()


def _heat_on_image(heatmap: np.ndarray, box: torch.Tensor, shape_hw: tuple[int, int]) -> np.ndarray:
    """Resize a 1/4-grid map to the canvas and cut out the original image's area."""
    canvas = cv2.resize(heatmap, None, fx=STRIDE, fy=STRIDE, interpolation=cv2.INTER_LINEAR)
    sx, sy, left, top = box[:4].tolist()
    crop = canvas[round(top):round(top + shape_hw[0] * sy), round(left):round(left + shape_hw[1] * sx)]
    return cv2.resize(crop, (shape_hw[1], shape_hw[0]), interpolation=cv2.INTER_LINEAR)


def draw_predictions(batch: BatchOutput, results: list[SolveResult], names: list[str], path: str | Path) -> Path:
    """Save the figure (rows = images; columns = input, gap heatmap, slider heatmap)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = len(results)
    fig, axes = plt.subplots(rows, 3, figsize=(15, 3.2 * rows), squeeze=False)
    for i, (res, name) in enumerate(zip(results, names, strict=True)):
        image = to_rgb(batch.images[i])
        ax = axes[i, 0]
        ax.imshow(image)
        for key, point, color in (("heatmap_gap", res.gap, "red"), ("heatmap_slider", res.slider, "lime")):
            if point is None:
                continue
            ax.plot(*point, "x", color=color, markersize=10, mew=2, label=key.split("_")[1])
            rect = blob_box(batch.outputs[key][i, 0].numpy(), batch.boxes[i], point)
            ax.add_patch(Rectangle(rect[:2], rect[2] - rect[0], rect[3] - rect[1], fill=False, color=color))
        distance = "—" if res.distance is None else f"{res.distance:.1f}px"
        ax.set_title(f"{name}: distance {distance}", fontsize=9)
        ax.legend(loc="lower right", fontsize=7)
        for j, key in ((1, "heatmap_gap"), (2, "heatmap_slider")):
            heat = _heat_on_image(batch.outputs[key][i, 0].numpy(), batch.boxes[i], image.shape[:2])
            axes[i, j].imshow(image, alpha=0.35)
            im = axes[i, j].imshow(heat, cmap="hot", alpha=0.65, vmin=0, vmax=max(float(heat.max()), 1e-6))
            axes[i, j].set_title(f"{key} (max {heat.max():.2f})", fontsize=9)
            fig.colorbar(im, ax=axes[i, j], fraction=0.025)
        for ax in axes[i]:
            ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
