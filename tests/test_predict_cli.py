"""``slidercaptcha predict``: --piece with --json gives the piece fields; base64 and stdin input;
bad inputs print one line and exit non-zero without a traceback. Uses the packaged model."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from slidercaptcha.cli import main
from slidercaptcha.inference.images import decode_base64, encode_png
from slidercaptcha.inference.samples import generated_captchas

NEW_FIELDS = ("gap_box", "slider_box", "offset", "match_score")


@pytest.fixture(scope="module")
def captchas():
    return generated_captchas(2, seed=5, mode="separate")


@pytest.fixture(scope="module")
def files(captchas, tmp_path_factory):
    """Per captcha: image PNG, piece PNG (RGBA) and piece JPEG (no alpha, on white)."""
    root = tmp_path_factory.mktemp("predict")
    out = []
    for i, cap in enumerate(captchas):
        image, piece, jpeg = root / f"c{i}.png", root / f"p{i}.png", root / f"p{i}.jpg"
        image.write_bytes(encode_png(cap.image))
        Image.fromarray(cap.piece).save(piece)
        white = Image.new("RGB", cap.piece.shape[1::-1], "white")
        white.paste(Image.fromarray(cap.piece), mask=Image.fromarray(cap.piece[:, :, 3]))
        white.save(jpeg, quality=95)
        out.append((image, piece, jpeg))
    return out


def run_json(capsys, argv) -> tuple[int, list[dict]]:
    rc = main(["predict", *map(str, argv), "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return rc, [json.loads(line) for line in captured.out.splitlines()]


def check_piece_fields(out: dict, cap) -> None:
    assert all(isinstance(out[k], float) for k in ("offset", "match_score", "distance"))
    assert len(out["gap_box"]) == 4 and len(out["slider_box"]) == 4
    assert out["offset"] == pytest.approx(out["gap_box"][0] - out["slider_box"][0])
    assert abs(out["gap"][0] - cap.record["gap_x"]) < 5


def test_json_with_piece_has_boxes_and_offset(captchas, files, capsys):
    (img0, piece0, _), (img1, piece1, _) = files
    rc, lines = run_json(capsys, [img0, img1, "--piece", piece0, piece1])
    assert rc == 0 and [line["image"] for line in lines] == [str(img0), str(img1)]
    for line, cap in zip(lines, captchas, strict=True):
        check_piece_fields(line, cap)
    rc, lines = run_json(capsys, [img0])  # no piece: the fields are there, empty
    assert rc == 0 and all(lines[0][k] is None for k in NEW_FIELDS)


def test_json_with_jpeg_piece(captchas, files, capsys):
    img0, _, jpeg0 = files[0]
    rc, lines = run_json(capsys, [img0, "--piece", jpeg0])  # a JPEG piece without alpha
    assert rc == 0, lines
    check_piece_fields(lines[0], captchas[0])


def test_base64_arguments_file_and_stdin(captchas, files, tmp_path, capsys, monkeypatch):
    cap = captchas[0]
    img_b64 = base64.b64encode(encode_png(cap.image)).decode()
    piece_b64 = "data:image/png;base64," + base64.b64encode(files[0][1].read_bytes()).decode()
    rc, lines = run_json(capsys, ["--base64", img_b64, "--piece", piece_b64])
    assert rc == 0 and lines[0]["image"] == "image 1 (base64)"
    check_piece_fields(lines[0], cap)
    first = lines[0]

    text = tmp_path / "image.b64"
    text.write_text(base64.encodebytes(encode_png(cap.image)).decode())  # with line breaks
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(piece_b64.encode())))
    rc, lines = run_json(capsys, ["--base64", f"@{text}", "--piece", "-"])
    assert rc == 0 and lines[0]["image"] == str(text)
    assert lines[0]["offset"] == pytest.approx(first["offset"]) and lines[0]["gap"] == pytest.approx(first["gap"])

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(encode_png(cap.image))))  # raw bytes
    rc, lines = run_json(capsys, ["-", "--piece", files[0][1]])
    assert rc == 0 and lines[0]["image"] == "image (stdin)" and lines[0]["offset"] == pytest.approx(first["offset"])


def test_text_output_shows_offset(files, capsys):
    assert main(["predict", str(files[0][0]), "--piece", str(files[0][1])]) == 0
    assert "offset=" in capsys.readouterr().out


def test_bad_inputs_one_line_and_nonzero(files, tmp_path, capsys):
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(encode_png(np.zeros((10, 10, 3), np.uint8)))
    rc = main(["predict", str(tiny)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "tiny.png" in err and "10×10 image is too small to solve" in err

    rc, lines = run_json(capsys, ["--base64", "not base64!!", base64.b64encode(tiny.read_bytes()).decode(),
                                  base64.b64encode(files[0][0].read_bytes()).decode()])
    assert rc == 1 and len(lines) == 3  # the good one is still solved
    assert "image 1 (base64)" in lines[0]["error"] and "not valid base64" in lines[0]["error"]
    assert "too small" in lines[1]["error"] and "distance" in lines[2]

    rc = main(["predict", str(files[0][0]), "--piece", str(tiny)])  # a tiny piece, too
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "too small" in err and "Traceback" not in err

    rc = main(["predict", "-", "--piece", "-"])  # stdin twice: a usage error
    assert rc == 2 and "stdin" in capsys.readouterr().err


def test_package_exports_the_solver_lazily():
    code = ("import sys, slidercaptcha; assert 'torch' not in sys.modules, 'torch at import'; "
            "from slidercaptcha import SliderSolver, SolveResult; "
            "from slidercaptcha.inference.solver import SliderSolver as S, SolveResult as R; "
            "assert SliderSolver is S and SolveResult is R and 'SliderSolver' in dir(slidercaptcha)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_is_the_installed_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"slidercaptcha {version('slidercaptcha')}"


@pytest.mark.parametrize("text, data", [
    ("SGVsbG8=", b"Hello"), ("SGVsbG8", b"Hello"), ("SGVs\nbG8=\n", b"Hello"),
    ("data:image/png;base64,SGVsbG8=", b"Hello"), ("-_8=", b"\xfb\xff"),
])
def test_decode_base64_accepts(text, data):
    assert decode_base64(text) == data


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("SGVsbG8=!", "not valid base64"), ("data:image/png,abc", "base64-encoded"),
    ("A", "not valid base64"), (b"\xff\xfe", "non-ASCII"),
])
def test_decode_base64_refuses(text, words):
    from slidercaptcha.inference.images import ImageError

    with pytest.raises(ImageError, match=words):
        decode_base64(text, "x")


def test_a_folder_stands_for_its_images(files, tmp_path, capsys):
    """A folder as IMAGE is solved image by image in name order; one without images is an error."""
    (img0, _, _), (img1, _, _) = files
    folder = tmp_path / "captchas"
    folder.mkdir()
    for name, src in (("b.png", img1), ("a.png", img0)):
        (folder / name).write_bytes(src.read_bytes())
    (folder / "notes.txt").write_text("not an image")
    rc, lines = run_json(capsys, [folder])
    assert rc == 0 and [line["image"] for line in lines] == [str(folder / "a.png"), str(folder / "b.png")]
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty")]) != 0
    assert "a folder with no images" in capsys.readouterr().err


def test_a_folder_of_pieces_pairs_with_a_folder_of_images(captchas, files, tmp_path, capsys):
    backgrounds, pieces = tmp_path / "bg", tmp_path / "pieces"
    backgrounds.mkdir()
    pieces.mkdir()
    for i, (image, piece, _) in enumerate(files):
        (backgrounds / f"{i}.png").write_bytes(image.read_bytes())
        (pieces / f"{i}.png").write_bytes(piece.read_bytes())
    rc, lines = run_json(capsys, [backgrounds, "--piece", pieces])
    assert rc == 0 and len(lines) == 2
    for line, cap in zip(lines, captchas, strict=True):
        check_piece_fields(line, cap)
