import cv2
import numpy as np
import pytest
import torch

from slidercaptcha.decode import decode
from slidercaptcha.grid import encode_cell
from slidercaptcha.preprocess import compute_letterbox, preprocess, scale_image, to_rgb

SIZES = [(360, 140), (672, 390), (100, 400), (320, 160), (552, 344), (1000, 50), (7, 3)]


@pytest.mark.parametrize("w,h", SIZES)
def test_letterbox_round_trip(w, h):
    box = compute_letterbox(w, h)
    pts = np.random.default_rng(0).uniform([0, 0], [w, h], size=(50, 2))
    assert np.abs(box.to_original(box.to_input(pts)) - pts).max() < 0.01
    inp, box2 = preprocess(np.full((h, w, 3), 200, np.uint8))
    assert inp.shape == (4, 256, 512) and box2 == box
    mask = inp[3]
    ys, xs = np.nonzero(mask)
    assert xs.min() == box.pad_left and ys.min() == box.pad_top  # image sits where the box says
    assert np.isclose(mask.sum(), round(w * box.scale_x) * round(h * box.scale_y))
    assert np.all(inp[:3][:, mask == 0] == 0)  # padding is zero in RGB and in the mask


@pytest.mark.parametrize("w,h,new_w,new_h", [(672, 390, 331, 192), (671, 389, 331, 192), (1000, 600, 320, 192),
                                             (552, 344, 308, 192)])
def test_scale_image_keeps_the_area_filters_geometry_and_values(w, h, new_w, new_h):
    """The whole-factor box step + bilinear rest (and edge padding for odd sides) must put a dot
    where it belongs, and stay close to one area resize on a photo-like texture."""
    x0, y0 = int(w * 0.7), h // 2
    dot = np.zeros((h, w, 3), np.uint8)
    dot[y0:y0 + 4, x0:x0 + 4] = 255
    weight = scale_image(dot, new_w, new_h)[:, :, 0].astype(np.float64)
    ys, xs = np.mgrid[:new_h, :new_w] + 0.5
    centroid = np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()
    truth = np.array([(x0 + 2) * new_w / w, (y0 + 2) * new_h / h])
    assert np.abs(centroid - truth).max() < 0.15  # output pixels (one area resize: up to 0.08 here)

    noise = cv2.GaussianBlur(np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2)
    ours = scale_image(noise, new_w, new_h).astype(np.int16)
    assert ours.shape == (new_h, new_w, 3)
    area = cv2.resize(noise, (new_w, new_h), interpolation=cv2.INTER_AREA)
    assert np.abs(ours - area).mean() < 2.0  # grey levels; 0.7-1.3 here, a one-pixel shift gives 5-7


def test_input_forms_agree():
    rgb = np.random.default_rng(1).integers(0, 255, (140, 360, 3), dtype=np.uint8)
    bgr = rgb[:, :, ::-1].copy()
    rgba = np.dstack([rgb, np.full((140, 360), 255, np.uint8)])
    assert np.array_equal(to_rgb(bgr, "BGR"), rgb) and np.array_equal(to_rgb(rgba), rgb)
    assert to_rgb(rgb[:, :, 0]).shape == (140, 360, 3)


def _planted_outputs(points_canvas: np.ndarray) -> dict[str, torch.Tensor]:
    """Fake model outputs with a peak + offset at each canvas point (gap, slider per sample)."""
    b = len(points_canvas)
    out = {k: torch.zeros(b, 1, 64, 128) for k in ("heatmap_gap", "heatmap_slider")}
    out.update({k: torch.zeros(b, 2, 64, 128) for k in ("offset_gap", "offset_slider")})
    for i, (gap, slider) in enumerate(points_canvas):
        for name, p in (("gap", gap), ("slider", slider)):
            cell, off = encode_cell(p, (64, 128))
            out[f"heatmap_{name}"][i, 0, cell[1], cell[0]] = 0.9
            out[f"offset_{name}"][i, :, cell[1], cell[0]] = torch.from_numpy(off)
    return out


def test_decoding_recovers_planted_peaks_in_original_pixels():
    rng = np.random.default_rng(2)
    boxes, truths, canvas = [], [], []
    for w, h in SIZES[:5]:
        box = compute_letterbox(w, h)
        gap = rng.uniform([w * 0.5, 20], [w - 20, h - 20])
        slider = np.array([rng.uniform(10, 30), gap[1] + rng.uniform(-2, 2)])
        truths.append((gap, slider))
        canvas.append((box.to_input(gap), box.to_input(slider)))
        boxes.append(box.as_array())
    out = _planted_outputs(np.array(canvas))
    res = decode(out, torch.tensor(np.array(boxes)))
    for i, (gap, slider) in enumerate(truths):
        assert np.abs(res["gap"][i].numpy() - gap).max() < 0.05
        assert np.abs(res["slider"][i].numpy() - slider).max() < 0.05
        assert np.isclose(res["distance"][i].item(), gap[0] - slider[0], atol=0.1)
        assert np.isclose(res["gap_score"][i].item(), 0.9)


def test_decoding_ignores_padding_and_joint_rows():
    box = compute_letterbox(360, 140)  # padded top and bottom
    inp, _ = preprocess(np.zeros((140, 360, 3), np.uint8))
    mask = torch.from_numpy(inp[3:4])[None]
    out = _planted_outputs(np.array([[box.to_input([300, 70]), box.to_input([20, 70])]]))
    out["heatmap_gap"][0, 0, 2, 5] = 1.0  # a stronger peak on the padding: must be ignored
    out["heatmap_slider"][0, 0, 40, 3] = 0.95  # a stronger slider peak on another row
    res = decode(out, torch.tensor(box.as_array()[None]), mask)
    assert abs(res["gap"][0, 0].item() - 300) < 0.05
    assert abs(res["slider"][0, 1].item() - 70) > 5  # independent decoding takes the wrong row
    joint = decode(out, torch.tensor(box.as_array()[None]), mask, joint=True)
    assert abs(joint["slider"][0, 1].item() - 70) < 0.05 and abs(joint["gap"][0, 0].item() - 300) < 0.05


@pytest.mark.parametrize("gap_on_slider_row,joint_holds", [(0.5, False), (0.8, True)])
def test_joint_decoding_drops_a_slider_whose_row_holds_no_good_gap(gap_on_slider_row, joint_holds):
    """A decoy or an object read as a slider in a piece-free captcha must not pull the gap onto
    its row, unless a gap there scores close to the best one (JOINT_MIN_RATIO of it)."""
    box = compute_letterbox(512, 256)
    out = _planted_outputs(np.array([[box.to_input([300, 60]), box.to_input([30, 200])]]))  # gap 0.9
    cell, _ = encode_cell(box.to_input([400, 200]), (64, 128))
    out["heatmap_gap"][0, 0, cell[1], cell[0]] = gap_on_slider_row  # a weaker gap on the slider's row
    res = decode(out, torch.tensor(box.as_array()[None]), joint=True)
    expected = [400, 200] if joint_holds else [300, 60]
    assert np.abs(res["gap"][0].numpy() - expected).max() < 2.5
