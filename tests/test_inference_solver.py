"""SliderSolver API: input types, colour order, gap-only handling, image errors, separate pieces."""

from __future__ import annotations

import io

import numpy as np
import pytest
from images import bad_inputs
from oracle import OracleBackend
from PIL import Image

from slidercaptcha.inference import ImageError, ImageTooLargeError, SliderSolver
from slidercaptcha.inference.images import encode_png, load_image
from slidercaptcha.inference.samples import generated_captchas, random_checkpoint
from slidercaptcha.preprocess import preprocess


@pytest.fixture(scope="module")
def solver(tmp_path_factory):
    """A random ``-s`` model exported to ONNX (fast on the CPU; parity with torch is tested apart)."""
    from slidercaptcha.inference.export import export

    path = random_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pth")
    return SliderSolver.load(export(path, "onnx"), threads=2)


def same(a, b) -> None:
    assert a.gap == pytest.approx(b.gap, abs=1e-4)
    assert a.gap_confidence == pytest.approx(b.gap_confidence, abs=1e-6)
    assert a.slider_confidence == pytest.approx(b.slider_confidence, abs=1e-6)


def test_every_input_type_gives_the_same_answer(solver, tmp_path):
    rgb = generated_captchas(1, seed=3)[0].image
    path = tmp_path / "c.png"
    path.write_bytes(encode_png(rgb))
    ref = solver.solve(rgb)
    for source, order in ((str(path), "RGB"), (path, "RGB"), (encode_png(rgb), "RGB"), (Image.fromarray(rgb), "RGB"),
                          (rgb[:, :, ::-1].copy(), "BGR"), (np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]), "RGB"),
                          (np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 255, np.uint8)]), "BGR")):
        same(solver.solve(source, color_order=order), ref)
    gray = rgb[:, :, 1].copy()
    same(solver.solve(gray), solver.solve(np.dstack([gray] * 3)))
    same(solver.solve(encode_png(gray)), solver.solve(gray))


def test_bgr_arrays_read_the_piece_in_bgr_too(solver):
    """OpenCV users hand in both images BGR(A) (cv2.imread, IMREAD_UNCHANGED): ``color_order``
    is for the piece as well, or its texture is matched with red and blue swapped."""
    for cap in generated_captchas(6, seed=11, mode="separate"):
        ref = solver.solve(cap.image, piece=cap.piece)
        bgr = solver.solve(cap.image[:, :, ::-1].copy(), piece=cap.piece[:, :, [2, 1, 0, 3]].copy(), color_order="BGR")
        assert bgr.gap == pytest.approx(ref.gap, abs=1e-4) and bgr.match_score == pytest.approx(ref.match_score, abs=1e-6)


def test_16_bit_grey_png_loads_as_its_8_bit_values(tmp_path):
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (20, 1))
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "g16.png")  # PIL opens it as I;16
    assert np.array_equal(load_image(tmp_path / "g16.png"), gray)


def test_bgr_without_color_order_differs(solver):
    rgb = generated_captchas(1, seed=4)[0].image
    a, _ = preprocess(load_image(rgb[:, :, ::-1].copy(), "BGR"))
    b, _ = preprocess(load_image(rgb[:, :, ::-1].copy(), "RGB"))
    assert not np.allclose(a, b)


def test_batch_matches_single(solver):
    images = [c.image for c in generated_captchas(3, seed=5)]
    for single, batched in zip([solver.solve(im) for im in images], solver.solve_batch(images), strict=True):
        same(single, batched)
        assert set(batched.timing) == {"preprocess", "model", "decode", "match", "total"}


def test_random_model_is_gap_only(solver):
    """An untrained model's slider peak (~0.1) is below the threshold: no slider, no distance."""
    res = solver.solve(generated_captchas(1, seed=6)[0].image)
    assert res.slider is None and res.distance is None and res.slider_confidence < solver.slider_threshold


@pytest.mark.parametrize("name", list(bad_inputs()))
def test_bad_bytes_raise_clear_errors(solver, name):
    data = bad_inputs()[name]
    expected = ImageTooLargeError if name == "20000x20000" else ImageError
    with pytest.raises(expected, match="bytes"):
        solver.solve(data)


def test_bad_file_is_named(solver, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(bad_inputs()["truncated"])
    with pytest.raises(ImageError, match="broken.png"):
        solver.solve(path)
    with pytest.raises(ImageError, match="no such file"):
        solver.solve(tmp_path / "missing.png")


def test_real_1bit_20000px_png_is_refused_before_decoding():
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, format="PNG")  # ~50 KB file, 400 Mpx
    with pytest.raises(ImageTooLargeError, match="pixel"):
        load_image(buf.getvalue())


def test_oversized_array_and_bytes_limits():
    from slidercaptcha.inference.images import ImageLimits

    small = ImageLimits(max_bytes=100, max_pixels=1000)
    with pytest.raises(ImageTooLargeError):
        load_image(np.zeros((100, 100, 3), np.uint8), limits=small)
    with pytest.raises(ImageTooLargeError):
        load_image(encode_png(np.zeros((40, 40, 3), np.uint8)) + b"\0" * 100, limits=small)


# ----------------------------------------------------------------------------- separate piece
def test_piece_picks_the_true_gap_among_decoys():
    """Decoys get the higher heatmap scores; matching the piece must still choose the real gap."""
    oracle = OracleBackend()
    solver = SliderSolver(oracle)
    captchas = [c for c in generated_captchas(80, seed=11, mode="separate") if c.record["decoys"]][:20]
    assert len(captchas) >= 15
    correct = 0
    for cap in captchas:
        r = cap.record
        _, box = preprocess(cap.image)
        gap = box.to_input(np.array([r["gap_x"], r["gap_y"]]))
        decoys = [box.to_input(np.array([d["x"], d["y"]])) for d in r["decoys"]]
        oracle.peaks = [(*gap, 0.6)] + [(*d, 0.9) for d in decoys]
        without = solver.solve(cap.image)
        assert np.hypot(without.gap[0] - r["gap_x"], without.gap[1] - r["gap_y"]) > 10  # the heatmap alone picks a decoy
        res = solver.solve(cap.image, piece=cap.piece)
        correct += abs(res.gap[0] - r["gap_x"]) < 6 and abs(res.gap[1] - r["gap_y"]) < 6
        assert res.slider[0] == pytest.approx(cap.piece.shape[1] / 2, abs=3)
        assert res.distance == pytest.approx(res.gap[0] - res.slider[0])
    # Faint styles (frosted, soft shadow) leave little outline; measured 15/20 with seed 11,
    # 19/20 since faded decoys changed what seed 11 draws (heatmap alone: 0/20).
    assert correct >= 0.7 * len(captchas), f"piece matching found {correct}/{len(captchas)} true gaps"


def test_piece_locates_the_gap_finer_than_the_heatmap():
    """The heatmap peak is a cell away from the gap (the model's localisation error); where the
    piece outline fits best puts the gap back within a pixel or two, at full resolution."""
    oracle = OracleBackend()
    solver = SliderSolver(oracle)
    captchas = [c for c in generated_captchas(40, seed=13, mode="separate") if not c.record["decoys"]][:15]
    close_before = close_after = 0
    for cap in captchas:
        r = cap.record
        _, box = preprocess(cap.image)
        oracle.peaks = [(*box.to_input(np.array([r["gap_x"] + 6.0, r["gap_y"] - 5.0])), 0.8)]
        heat_gap = solver.solve(cap.image).gap  # the planted peak, as the heatmap alone decodes it
        res = solver.solve(cap.image, piece=cap.piece)
        close_before += np.hypot(heat_gap[0] - r["gap_x"], heat_gap[1] - r["gap_y"]) < 2
        close_after += np.hypot(res.gap[0] - r["gap_x"], res.gap[1] - r["gap_y"]) < 2
    assert close_before == 0
    # Faint styles (frosted, soft shadow) leave little outline to fit; measured 13/15 with seed 13.
    assert close_after >= 0.7 * len(captchas), f"{close_after}/{len(captchas)} gaps within 2 px"


def test_full_size_layer_keeps_its_position():
    oracle = OracleBackend()
    solver = SliderSolver(oracle)
    cap = generated_captchas(1, seed=12, mode="separate")[0]
    h, w = cap.image.shape[:2]
    layer = np.zeros((h, w, 4), np.uint8)
    ph, pw = cap.piece.shape[:2]
    layer[30:30 + ph, 7:7 + pw] = cap.piece
    _, box = preprocess(cap.image)
    oracle.peaks = [(*box.to_input(np.array([cap.record["gap_x"], cap.record["gap_y"]])), 0.8)]
    res = solver.solve(cap.image, piece=layer)
    ys, xs = np.nonzero(cap.piece[:, :, 3] > 127)
    assert res.slider[0] == pytest.approx(7 + (xs.min() + xs.max() + 1) / 2)
    assert res.slider[1] == pytest.approx(30 + (ys.min() + ys.max() + 1) / 2)


def test_transparent_piece_is_an_error(solver):
    with pytest.raises(ImageError, match="transparent"):
        solver.solve(generated_captchas(1, seed=1)[0].image, piece=np.zeros((40, 40, 4), np.uint8))


def test_captcha_passed_as_its_own_piece_is_an_error(solver):
    """A whole captcha given as the piece (a common mix-up) has a 'shape' spanning the image:
    refused with a message, where it used to be answered with a gap box as large as the image."""
    image = generated_captchas(1, seed=1)[0].image
    with pytest.raises(ImageError, match="more than half the background"):
        solver.solve(image, piece=image[:, :, :3])


def test_errors_vs_labels_scores_against_the_generator_labels():
    """The benchmark's and the shipped-model test's scoring: exact points score 0, a missed
    slider is never within reach, a gap-only captcha is scored on its gap alone."""
    from slidercaptcha.inference.samples import errors_vs_labels
    from slidercaptcha.inference.solver import SolveResult

    composite, gap_only = generated_captchas(1, seed=5)[0], generated_captchas(1, seed=5, mode="gap-only")[0]
    rec, rec_g = composite.record, gap_only.record

    def result(gap, slider):
        return SolveResult(gap=gap, slider=slider, distance=None, gap_confidence=1.0, slider_confidence=1.0,
                           gap_angle=None)

    exact = result((rec["gap_x"], rec["gap_y"]), (rec["slider_x"], rec["slider_y"]))
    off = result((rec["gap_x"] + 6, rec["gap_y"] + 8), (rec["slider_x"], rec["slider_y"]))
    missed = result((rec["gap_x"], rec["gap_y"]), None)
    gap = result((rec_g["gap_x"] + 3, rec_g["gap_y"] + 4), None)
    err = errors_vs_labels([composite, composite, composite, gap_only], [exact, off, missed, gap])["error"]
    assert err[:2] == pytest.approx([0.0, 5.0])  # (10 px gap + 0 px slider) / 2
    assert err[2] > 1e6
    assert err[3] == pytest.approx(5.0)


def test_drawn_slider_sets_the_sliding_distance():
    """Composite captchas: heatmap points a few pixels off (both ways) come back with the
    sliding distance the image shows, measured by matching the drawn slider against the gap,
    and on one row."""
    from slidercaptcha.inference.matching import ALIGN_MIN_SCORE, align_drawn_slider

    captchas = [c for seed in range(17, 21)
                for c in [c for c in generated_captchas(30, seed=seed, mode="composite") if not c.record["decoys"]][:15]]
    exact = 0
    for cap in captchas:
        r = cap.record
        true_distance = r["gap_x"] - r["slider_x"]
        gap, slider = (r["gap_x"] + 4.0, r["gap_y"] + 2.0), (r["slider_x"] - 3.0, r["slider_y"] - 2.0)  # 7 px too far
        new_gap, new_slider, score = align_drawn_slider(cap.image, gap, slider)
        if score >= ALIGN_MIN_SCORE:  # matched: the points move by half the disagreement each, in opposite ways
            assert np.add(new_gap, new_slider) == pytest.approx(np.add(gap, slider))
        assert new_gap[1] == new_slider[1]  # the slider slides along its gap's row: one row for both
        exact += abs(new_gap[0] - new_slider[0] - true_distance) <= 1.5
    # Faint gap styles (blur, frosted, soft shadow) leave little outline to match. Measured 44/60
    # (seeds 17-20); one seed's 15 ranges 9-14 over seeds 15-22, too few for a floor of their own.
    # Unaligned, every distance is 7 px off.
    assert exact >= 0.6 * len(captchas), f"{exact}/{len(captchas)} distances within 1.5 px"
