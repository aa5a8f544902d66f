"""Safe image loading for untrusted inputs: path, bytes, PIL image or numpy array.

Everything is checked before it is decoded: the byte count, then the pixel count read
from the header (PIL opens lazily), so a decompression bomb costs a header read, not
gigabytes. Failures raise :class:`ImageError` naming the input; callers (CLI, server)
turn it into a message, never a stack trace.

Loaded images are uint8 arrays in RGB order: H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA).
``color_order`` only matters for numpy input; encoded files always decode to RGB.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

ImageInput = str | Path | bytes | bytearray | memoryview | Image.Image | np.ndarray


class ImageError(ValueError):
    """The input is not a usable image (empty, not an image, corrupt, truncated, too large)."""


class ImageTooLargeError(ImageError):
    """The input exceeds the byte or pixel limit."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 25_000_000  # e.g. 5000×5000; a captcha is far below this
    max_side: int = 16384
    min_side: int = 16  # smaller is no captcha (and no piece): refused, never "solved"


DEFAULT_LIMITS = ImageLimits()


def describe(source: ImageInput, name: str | None = None) -> str:
    """A short name for error messages: the path, or the kind and size of the data."""
    if name:
        return name
    if isinstance(source, str | Path):
        return str(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    return f"<{type(source).__name__}>"


def check_size(width: int, height: int, limits: ImageLimits, label: str) -> None:
    if width < 1 or height < 1:
        raise ImageError(f"{label}: image has no pixels ({width}×{height})")
    if min(width, height) < limits.min_side:
        raise ImageError(f"{label}: {width}×{height} image is too small to solve "
                         f"(at least {limits.min_side} px per side)")
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise ImageTooLargeError(f"{label}: {width}×{height} image exceeds the limit of "
                                 f"{limits.max_pixels} pixels / {limits.max_side} px per side")


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """Any PIL mode → uint8 L, RGB or RGBA array (alpha kept, palette expanded, 16-bit grey
    scaled: PIL's own conversion of a 16-bit PNG clips it to near white)."""
    if img.mode.startswith("I;16"):  # I;16, I;16B, I;16L: how PIL opens 16-bit grey PNGs
        return ((np.asarray(img, dtype=np.uint32) + 128) // 257).astype(np.uint8)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
    if has_alpha:
        img = img.convert("RGBA")
    elif img.mode in ("1", "L"):
        img = img.convert("L")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def decode_bytes(data: bytes, limits: ImageLimits = DEFAULT_LIMITS, label: str = "image") -> np.ndarray:
    """Encoded bytes → array, with the byte and header-pixel limits checked before decoding."""
    if len(data) == 0:
        raise ImageError(f"{label}: empty file")
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(f"{label}: {len(data)} bytes exceeds the limit of {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # lazy: reads the header only
            check_size(*img.size, limits, label)
            img.load()
            return _pil_to_array(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLargeError(f"{label}: image dimensions exceed the pixel limit") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not a recognised image format") from None
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as err:
        raise ImageError(f"{label}: corrupt or truncated image ({err})") from None


def encode_png(array: np.ndarray) -> bytes:
    """An RGB/gray uint8 array as PNG bytes (what a client uploads; used by tests and benchmarks)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def read_file(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """Read a file after checking its size, so a huge file is never read into memory."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: a folder, not an image file")
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ImageTooLargeError(f"{path}: {size} bytes exceeds the limit of {limits.max_bytes}")
    return path.read_bytes()


def _from_array(arr: np.ndarray, color_order: str, limits: ImageLimits, label: str) -> np.ndarray:
    if arr.dtype != np.uint8:
        raise ImageError(f"{label}: expected a uint8 array, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ImageError(f"{label}: expected H×W, H×W×3 or H×W×4, got shape {arr.shape}")
    check_size(arr.shape[1], arr.shape[0], limits, label)
    order = color_order.upper()
    if order not in ("RGB", "BGR"):
        raise ValueError(f"color_order must be 'RGB' or 'BGR', got {color_order!r}")
    if order == "BGR" and arr.ndim == 3:
        arr = np.concatenate([arr[:, :, 2::-1], arr[:, :, 3:]], axis=2)  # keep alpha last
    return np.ascontiguousarray(arr)


def load_image(source: ImageInput, color_order: str = "RGB", limits: ImageLimits = DEFAULT_LIMITS,
               name: str | None = None) -> np.ndarray:
    """Any supported input → uint8 gray / RGB / RGBA array in RGB order."""
    label = describe(source, name)
    if isinstance(source, np.ndarray):
        return _from_array(source, color_order, limits, label)
    if isinstance(source, Image.Image):
        check_size(*source.size, limits, label)
        return _pil_to_array(source)
    if isinstance(source, str | Path):
        return decode_bytes(read_file(source, limits), limits, label)
    if isinstance(source, bytes | bytearray | memoryview):
        return decode_bytes(bytes(source), limits, label)
    raise ImageError(f"{label}: unsupported input type; pass a path, bytes, PIL image or numpy array")


def base64_limit(limits: ImageLimits) -> int:
    """Characters of base64 text that decode to at most ``limits.max_bytes`` (plus slack for a
    data: prefix and line breaks)."""
    return (limits.max_bytes + 2) // 3 * 4 + limits.max_bytes // 38 + 256


def decode_base64(text: str | bytes, label: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """Base64 text → bytes, or :class:`ImageError` naming ``label``.

    Accepts a ``data:<type>;base64,`` prefix, line breaks and spaces, missing ``=`` padding and
    the URL-safe alphabet (``-_``). The decoded size is checked against ``limits.max_bytes``
    before decoding (:class:`ImageTooLargeError`).
    """
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise ImageError(f"{label}: not valid base64 (non-ASCII characters)") from None
    text = text.strip()
    if text[:5].lower() == "data:":
        header, sep, text = text.partition(",")
        if not sep or ";base64" not in header.lower():
            raise ImageError(f"{label}: a data: URI must be base64-encoded (data:image/png;base64,...)")
    text = "".join(text.split())
    if not text:
        raise ImageError(f"{label}: empty base64 string")
    if len(text) // 4 * 3 > limits.max_bytes:
        raise ImageTooLargeError(f"{label}: about {len(text) // 4 * 3} bytes of base64 data exceeds "
                                 f"the limit of {limits.max_bytes}")
    text = text.translate(str.maketrans("-_", "+/"))
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ImageError(f"{label}: not valid base64 ({err})") from None
