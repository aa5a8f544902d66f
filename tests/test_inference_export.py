"""Export and backends: ONNX FP32 parity with PyTorch, FP16/INT8 files, model-file discovery."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.backends import (
    ModelNotFoundError,
    OnnxBackend,
    TorchBackend,
    create_backend,
    load_torch_model,
)
from slidercaptcha.inference.benchmark import point_distances
from slidercaptcha.inference.export import export, size_mb
from slidercaptcha.inference.samples import generated_captchas, random_checkpoint
from slidercaptcha.preprocess import preprocess


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    ckpt = random_checkpoint(root / "model.pth")
    calibration = [c.image for c in generated_captchas(2, seed=21)]  # few: calibration time dominates
    return {"pth": ckpt, "onnx": export(ckpt, "onnx"), "fp16": export(ckpt, "onnx-fp16"),
            "int8": export(ckpt, "onnx-int8", calibration=calibration)}


def inputs(n: int = 2, seed: int = 30) -> np.ndarray:
    return np.stack([preprocess(c.image)[0] for c in generated_captchas(n, seed=seed)])


def test_onnx_fp32_matches_torch(files):
    x = inputs()
    ref = TorchBackend(load_torch_model(files["pth"])[0])(x)
    out = OnnxBackend(files["onnx"])(x)
    assert set(out) == set(ref)
    for key in ref:
        assert torch.allclose(out[key], ref[key], atol=1e-4), key


def test_dynamic_batch_and_metadata(files):
    backend = OnnxBackend(files["int8"])
    assert backend(inputs(3))["heatmap_gap"].shape == (3, 1, 64, 128)
    assert backend.metadata["precision"] == "int8"
    assert backend.metadata["variant"] == "lite-hrnet-18-fpn-s"


def test_sizes_shrink_with_precision(files):
    fp32, fp16, int8 = (size_mb(files[k]) for k in ("onnx", "fp16", "int8"))
    assert fp16 == pytest.approx(fp32 / 2, rel=0.1)
    assert int8 < 0.45 * fp32


def _sigmoids_requantised(path) -> int:
    """How many Sigmoid outputs feed a QuantizeLinear (i.e. SiLU computed in INT8)."""
    import onnx

    graph = onnx.load(str(path)).graph
    quantised_inputs = {n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    return sum(n.output[0] in quantised_inputs for n in graph.node if n.op_type == "Sigmoid")


def _quantised_convs(path) -> dict[str, int]:
    """Convs whose weight comes through a DequantizeLinear (i.e. run in INT8), per model part."""
    import onnx

    graph = onnx.load(str(path)).graph
    dequantised = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    return Counter(n.name.split("/")[2] for n in graph.node if n.op_type == "Conv" and n.input[1] in dequantised)


def test_int8_ops_choose_what_is_quantised(files, tmp_path):
    assert _sigmoids_requantised(files["int8"]) > 50  # SiLU in INT8 by default
    calibration = [c.image for c in generated_captchas(2, seed=21)]
    float_silu = export(files["pth"], "onnx-int8", tmp_path / "f.onnx", calibration, int8_ops=["Conv", "Add"])
    assert _sigmoids_requantised(float_silu) == 0


def test_int8_keeps_the_chosen_model_parts_in_float(files, tmp_path):
    """By default the stem and stage 2 stay float; every other part runs its convs in INT8."""
    default = _quantised_convs(files["int8"])
    assert "stem" not in default and "stage2" not in default
    assert {"stage3", "stage4", "fpn", "head"} <= set(default)
    calibration = [c.image for c in generated_captchas(2, seed=21)]
    everything = export(files["pth"], "onnx-int8", tmp_path / "all.onnx", calibration, float_modules=[])
    assert {"stem", "stage2"} <= set(_quantised_convs(everything))
    with pytest.raises(ValueError, match=r"unknown model part.*'stage9'.*parts: \['fpn'"):
        export(files["pth"], "onnx-int8", tmp_path / "x.onnx", calibration, float_modules=["stage9"])


def test_reduced_precision_outputs_stay_close(files):
    """Values, not decoded points: an untrained model's heatmap is flat, so its argmax is noise."""
    x = inputs()
    ref = OnnxBackend(files["onnx"])(x)
    for key, tol in (("fp16", 1e-2), ("int8", 5e-2)):
        out = OnnxBackend(files[key])(x)
        for name in ("heatmap_gap", "heatmap_slider", "offset_gap", "offset_slider"):
            assert (out[name] - ref[name]).abs().max() < tol, (key, name)


def test_auto_backend_prefers_onnx(files, tmp_path):
    (tmp_path / "best_model.pth").write_bytes(files["pth"].read_bytes())
    assert isinstance(create_backend(tmp_path), TorchBackend)
    (tmp_path / "model.onnx").write_bytes(files["onnx"].read_bytes())
    assert isinstance(create_backend(tmp_path), OnnxBackend)
    assert isinstance(create_backend(tmp_path, backend="torch"), TorchBackend)
    with pytest.raises(ModelNotFoundError):
        create_backend(files["onnx"], backend="torch")


def test_export_package_writes_the_layout_the_solver_loads(files, tmp_path):
    """`export --format package`: default.safetensors (EMA, FP16) + default.json + default_int8.onnx,
    with the calibration images and INT8 operator set given on the command line."""
    from slidercaptcha.cli import main
    from slidercaptcha.inference.images import encode_png

    shots = []
    for i, c in enumerate(generated_captchas(2, seed=21)):
        shots.append(tmp_path / f"cal{i}.png")
        shots[-1].write_bytes(encode_png(c.image))
    out = tmp_path / "weights"
    assert main(["export", "--checkpoint", str(files["pth"]), "--format", "package", "--output", str(out),
                 "--calibration-images", *map(str, shots), "--int8-ops", "Conv", "Add"]) == 0
    assert json.loads((out / "default.json").read_text())["input_size"] == [256, 512]
    assert _sigmoids_requantised(out / "default_int8.onnx") == 0  # --int8-ops reached the package
    x = inputs(1)
    model = load_torch_model(files["pth"])[0]
    torch_out = SliderSolver.load(out, backend="torch").backend(x)["heatmap_gap"]  # from the safetensors
    assert torch.allclose(torch_out, TorchBackend(model)(x)["heatmap_gap"], atol=1e-2)
    assert isinstance(SliderSolver.load(out).backend, OnnxBackend)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model"):
        SliderSolver.load(tmp_path)


def test_export_cli(files, tmp_path, capsys):
    from slidercaptcha.cli import main

    assert main(["export", "--checkpoint", str(files["pth"]), "--format", "onnx", "--output",
                 str(tmp_path / "m.onnx")]) == 0
    assert "spec 12.53 MB" in capsys.readouterr().out and (tmp_path / "m.onnx").is_file()


def test_predict_cli_json(files, tmp_path, capsys):
    from PIL import Image

    from slidercaptcha.cli import main

    path = tmp_path / "c.png"
    Image.fromarray(generated_captchas(1, seed=2)[0].image).save(path)
    (tmp_path / "junk.png").write_bytes(b"junk")
    rc = main(["predict", str(path), str(tmp_path / "junk.png"), "--checkpoint", str(files["onnx"]), "--json",
               "--visualize", str(tmp_path / "fig.png")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1 and len(lines) == 2
    assert set(lines[0]) >= {"gap", "slider", "distance", "gap_confidence", "timing"}
    assert "not a recognised image" in lines[1]["error"]
    assert (tmp_path / "fig.png").stat().st_size > 10_000


@pytest.mark.parametrize("fmt, tol", [("onnx-fp16", 1.0), ("onnx-int8", 3.0)])
def test_trained_model_reduced_precision_decodes_close(fmt, tol, tmp_path):
    """Decoded points of FP16/INT8 within 1/3 px of FP32 on a trained model (the packaged one).

    FP16 keeps every point within 0.5 px (the solver's full-resolution matching moves points
    by whole pixels); INT8, with the stem and stage 2 in float, keeps all but one within 3 px
    (``pytest -s`` prints these). The one is a near-tie: where two hollows score alike, the
    rounding can pick the other one, and which captcha that hits depends on the calibration
    captchas (an export after the faster downscaling moved one gap of these 32 by 51 px: FP32's
    hollow scored 0.50, INT8's other one 0.52; the export before moved none). So INT8 may move
    one captcha of 32 by any distance and the rest by at most ``tol``; an export that breaks
    the model moves many.
    """
    from slidercaptcha.inference.backends import PACKAGE_WEIGHTS

    weights = PACKAGE_WEIGHTS / "default.safetensors"
    if not weights.is_file():
        pytest.skip("no packaged trained model: a random model has no peaks to compare")
    images = [c.image for c in generated_captchas(32, seed=40)]
    ref = SliderSolver.load(weights, backend="torch").solve_batch(images)
    out = SliderSolver.load(export(weights, fmt, tmp_path / "m.onnx")).solve_batch(images)
    dists = point_distances(ref, out)
    print(f"{fmt}: {(dists <= tol).sum()} of {len(dists)} points within {tol:g} px; largest {np.round(np.sort(dists)[-3:], 1)}")
    allowed = 0 if fmt == "onnx-fp16" else 1  # captchas that may flip a near-tie (docstring)
    assert (dists > tol).sum() <= 2 * allowed, np.round(np.sort(dists)[-5:], 2)  # a gap and its slider
