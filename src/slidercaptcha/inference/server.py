"""``slidercaptcha serve``: FastAPI service around one :class:`SliderSolver`.

POST /solve (multipart ``image``, optional ``piece``) → the SolveResult as JSON; GET /health.
Uploads are bounded twice: the request's Content-Length before the body is parsed, and each
file's bytes and header pixel count before decoding (:mod:`slidercaptcha.inference.images`).
Errors are JSON ``{"error": ...}`` with a 4xx status; unexpected failures are logged here
and answered with a bare 500, never a stack trace.

No ``from __future__ import annotations`` here: FastAPI must see the real UploadFile type
of the endpoint parameters, which are imported inside :func:`create_app`.
"""
import logging

from slidercaptcha.inference.images import (
    DEFAULT_LIMITS,
    ImageError,
    ImageLimits,
    ImageTooLargeError,
    load_image,
)

log = logging.getLogger("slidercaptcha.server")
MULTIPART_OVERHEAD = 64 * 1024


def create_app(solver, limits: ImageLimits = DEFAULT_LIMITS):
    """The ASGI app; ``solver`` is shared by all requests (both backends are thread-safe)."""
    from fastapi import FastAPI, Request, UploadFile
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

    async def read_upload(upload: UploadFile, label: str) -> bytes:
        data = await upload.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise ImageTooLargeError(f"{label}: larger than {limits.max_bytes} bytes")
        return data

    def decode_and_solve(image: bytes, piece: bytes | None, labels: tuple[str, str]):
        array = load_image(image, limits=limits, name=labels[0])
        piece_array = None if piece is None else load_image(piece, limits=limits, name=labels[1])
        return solver.solve(array, piece_array)

    @app.get("/health")
    def health():
        return {"status": "ok", "model": solver.backend.description}

    @app.post("/solve")
    async def solve(image: UploadFile, piece: UploadFile | None = None):
        labels = (f"image ({image.filename})", f"piece ({piece.filename if piece else ''})")
        try:
            image_bytes = await read_upload(image, labels[0])
            piece_bytes = await read_upload(piece, labels[1]) if piece is not None else None
            result = await run_in_threadpool(decode_and_solve, image_bytes, piece_bytes, labels)
        except ImageTooLargeError as err:
            return error(413, str(err))
        except ImageError as err:
            return error(400, str(err))
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
