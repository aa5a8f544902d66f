import pytest
import torch

from slidercaptcha.config import Config, config_from_dict
from slidercaptcha.model import build_model, model_from_config
from slidercaptcha.model.info import count_params, forward_gflops, stage_table

SPEC_TABLE = {"Stem": 20_480, "Stage2": 100_864, "Stage3": 512_416, "Stage4": 1_701_568,
              "LiteFPN": 653_318, "DualHead": 296_200}


@pytest.fixture(scope="module")
def spec_model():
    return build_model("lite-hrnet-18-fpn").eval()


def test_parameter_table_matches_spec(spec_model):
    assert {name: n for name, n, _ in stage_table(spec_model)} == SPEC_TABLE
    assert count_params(spec_model) == 3_284_846


@pytest.mark.parametrize("batch", [1, 3])
def test_output_shapes_and_ranges(spec_model, batch):
    torch.manual_seed(0)
    with torch.no_grad():
        out = spec_model(torch.randn(batch, 4, 256, 512))
    assert out["heatmap_gap"].shape == (batch, 1, 64, 128)
    assert out["heatmap_slider"].shape == (batch, 1, 64, 128)
    for k in ("offset_gap", "offset_slider", "angle"):
        assert out[k].shape == (batch, 2, 64, 128)
    for k in ("heatmap_gap", "heatmap_slider"):
        assert out[k].min() >= 0 and out[k].max() <= 1
    for k in ("offset_gap", "offset_slider"):
        assert out[k].abs().max() <= 0.5
    norm = out["angle"].norm(dim=1)
    assert torch.allclose(norm, torch.ones_like(norm), atol=1e-4)


def test_heatmap_bias_prior_survives_init():
    model = build_model("lite-hrnet-18-fpn")
    for head in (model.head.gap, model.head.slider):
        assert torch.allclose(head[-1].bias, torch.tensor([-2.1972]), atol=1e-3)


def test_angle_head_optional():
    model = build_model("lite-hrnet-18-fpn", angle_head=False).eval()
    assert count_params(model) == 3_284_846 - 74_050
    with torch.no_grad():
        assert "angle" not in model(torch.zeros(1, 4, 64, 128))


def test_small_variant_is_at_most_a_third_of_the_flops(spec_model):
    small = build_model("lite-hrnet-18-fpn-s")
    assert forward_gflops(small) <= forward_gflops(spec_model) / 3


def test_model_from_config_matches_code():
    cfg = config_from_dict({"model": {"variant": "lite-hrnet-18-fpn-s", "angle_head": False}})
    a, b = model_from_config(cfg.model), build_model("lite-hrnet-18-fpn-s", angle_head=False)
    assert [(k, v.shape) for k, v in a.state_dict().items()] == [(k, v.shape) for k, v in b.state_dict().items()]
    assert isinstance(Config().model.input_size, list)


def test_onnx_export_matches_pytorch(tmp_path):
    import onnx
    import onnxruntime as ort

    from slidercaptcha.inference.export import OPSET, export_onnx

    torch.manual_seed(0)
    model = build_model("lite-hrnet-18-fpn").eval()
    for head in model.head.children():  # trained heads are far from their 1e-3 init; near-zero
        torch.nn.init.normal_(head[-1].weight, std=0.05)  # angle vectors would only measure round-off
    path = export_onnx(model, tmp_path / "m.onnx")
    assert not model.training  # export must leave the caller's model as it was
    assert OPSET >= 17 and onnx.load(str(path)).opset_import[0].version >= 17
    x = torch.rand(2, 4, 256, 512)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x.numpy()}), strict=True))
    with torch.no_grad():
        want = model(x)
    assert set(names) == set(want)
    for k in names:
        assert abs(got[k] - want[k].numpy()).max() < 1e-4, k
