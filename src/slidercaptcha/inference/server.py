"""``slidercaptcha serve``: FastAPI service around one :class:`SliderSolver`.

POST /solve → the SolveResult as JSON (gap, slider, distance, offset, confidences, gap_angle,
match_score, and with a piece also gap_box, slider_box; timing). GET /health. /solve takes either

* ``multipart/form-data``: file field ``image``, optional file field ``piece`` (a text field
  instead of a file is read as base64), or
* ``application/json``: ``{"image": "<base64>", "piece": "<base64>"}``, ``piece`` optional
  (missing or null: none); a ``data:image/png;base64,`` prefix is fine.

The piece may be tight, a full-height strip holding it, or a JPEG without alpha (the solver
reads all three). Uploads are bounded twice: the request's Content-Length before the body is
parsed, and each image's bytes (checked on the base64 length before decoding) and header pixel
count before decoding (:mod:`slidercaptcha.inference.images`). Errors are JSON ``{"error": ...}``
with a 4xx status: 400 unreadable input (bad base64, not an image, under 16 px), 413 too large,
415 another content type, 422 a missing or malformed field. Unexpected failures are logged here
and answered with a bare 500, never a stack trace.

No ``from __future__ import annotations`` here: FastAPI must see the real Request type of
the endpoint parameter, which is imported inside :func:`create_app`.
"""
import json
import logging

from slidercaptcha import __version__
from slidercaptcha.inference.images import (
    DEFAULT_LIMITS,
    ImageError,
    ImageLimits,
    ImageTooLargeError,
    base64_limit,
    decode_base64,
    load_image,
)

log = logging.getLogger("slidercaptcha.server")
MULTIPART_OVERHEAD = 64 * 1024
FORMATS = ('send multipart/form-data (file fields "image", optional "piece") or application/json '
           '({"image": base64, "piece": base64 or null})')


class RequestError(Exception):
    """A malformed request: answered with ``status`` and the message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def create_app(solver, limits: ImageLimits = DEFAULT_LIMITS):
    """The ASGI app; ``solver`` is shared by all requests (both backends are thread-safe)."""
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    app = FastAPI(title="slidercaptcha", docs_url=None, redoc_url=None)
    max_request = 2 * limits.max_bytes + MULTIPART_OVERHEAD

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if request.method == "POST":
            if length is None:
                return error(411, "Content-Length required")
            if not length.isdigit() or int(length) > max_request:
                return error(413, f"request larger than {max_request} bytes")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request, exc: RequestValidationError):
        fields = ", ".join(".".join(map(str, e.get("loc", ()))) for e in exc.errors())
        return error(422, f"invalid request: missing or malformed field(s) {fields}")

    @app.exception_handler(Exception)
    async def internal(_request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        return error(500, "internal error")

    async def read_upload(upload, label: str) -> bytes:
        data = await upload.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise ImageTooLargeError(f"{label}: larger than {limits.max_bytes} bytes")
        return data

    def malformed(name: str, what: str) -> RequestError:
        return RequestError(422, f"invalid request: missing or malformed field(s) {name} ({what})")

    async def read_form(request: Request) -> dict:
        """Multipart fields → {name: (bytes or base64 str, label)} for ``image`` and ``piece``."""
        from starlette.datastructures import UploadFile as StarletteUpload
        from starlette.exceptions import HTTPException as StarletteHTTPException
        from starlette.formparsers import MultiPartException

        try:
            form = await request.form(max_files=8, max_fields=32, max_part_size=base64_limit(limits))
        except (MultiPartException, StarletteHTTPException) as err:
            detail = getattr(err, "detail", None) or getattr(err, "message", None) or str(err)
            raise RequestError(400, f"malformed form body ({detail})") from None
        try:
            found = {}
            for name in ("image", "piece"):
                value = form.get(name)
                if isinstance(value, StarletteUpload):
                    label = f"{name} ({value.filename or ''})"
                    found[name] = (await read_upload(value, label), label)
                elif isinstance(value, str):
                    found[name] = (value, f"{name} (base64 form field)")
            if "image" not in found:
                raise malformed("image", "a file upload, or base64 text")
            return found
        finally:
            await form.close()

    async def read_json(request: Request) -> dict:
        """``{"image": base64, "piece": base64 | null}`` → {name: (base64 str, label)}."""
        try:
            payload = await run_in_threadpool(json.loads, await request.body())  # up to tens of MB
        except (ValueError, UnicodeDecodeError) as err:
            raise RequestError(400, f"body is not valid JSON ({err})") from None
        if not isinstance(payload, dict):
            raise malformed("image", 'the body must be a JSON object {"image": base64, "piece": base64}')
        found = {}
        for name in ("image", "piece"):
            value = payload.get(name)
            if value is None and name == "piece":
                continue
            if not isinstance(value, str):
                raise malformed(name, "a base64 string")
            found[name] = (value, f"{name} (base64)")
        return found

    def to_array(value: bytes | str, label: str):
        data = decode_base64(value, label, limits) if isinstance(value, str) else value
        return load_image(data, limits=limits, name=label)

    def decode_and_solve(found: dict):
        array = to_array(*found["image"])
        piece_array = to_array(*found["piece"]) if "piece" in found else None
        return solver.solve(array, piece_array)

    @app.get("/health")
    def health():
        return {"status": "ok", "model": solver.backend.description, "version": __version__}

    @app.post("/solve")
    async def solve(request: Request):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if kind == "application/json":
                found = await read_json(request)
            elif kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
                found = await read_form(request)
            else:
                raise RequestError(415, f"unsupported content type {kind or '(none)'!r}: {FORMATS}")
            result = await run_in_threadpool(decode_and_solve, found)
        except RequestError as err:
            return error(err.status, str(err))
        except ImageTooLargeError as err:
            return error(413, str(err))
        except ImageError as err:
            return error(400, " ".join(str(err).split()))
        return result.to_dict()

    return app


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--checkpoint", help=".pth, .safetensors, .onnx or a directory (default: packaged model)")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_LIMITS.max_bytes)
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_LIMITS.max_pixels)
    parser.add_argument("--max-concurrency", type=int, default=64, help="requests beyond this get 503")


def run(args) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ValueError("serving needs the [serve] extra: pip install 'slidercaptcha[serve]'") from None
    from slidercaptcha.inference.solver import SliderSolver

    limits = ImageLimits(max_bytes=args.max_bytes, max_pixels=args.max_pixels)
    solver = SliderSolver.load(args.checkpoint, backend=args.backend, threads=args.threads, limits=limits)
    uvicorn.run(create_app(solver, limits), host=args.host, port=args.port,
                limit_concurrency=args.max_concurrency, log_level="info")
    return 0
