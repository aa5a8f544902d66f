"""Bounded load test of ``slidercaptcha serve`` on loopback: throughput, p95 latency, errors.

    python benchmarks/load_test_server.py --checkpoint model.onnx      # starts and stops a server
    python benchmarks/load_test_server.py --url http://127.0.0.1:8000  # an already running one

Sends exactly ``--requests`` POST /solve requests (generated captchas) with at most
``--concurrency`` in flight, then stops. Only 127.0.0.1 / localhost URLs are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from urllib.parse import urlparse

import httpx
import numpy as np

from slidercaptcha.inference.images import encode_png
from slidercaptcha.inference.samples import generated_captchas

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkpoint: str, port: int, threads: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "slidercaptcha", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--checkpoint", checkpoint, "--threads", str(threads)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server at {url} did not become healthy in {timeout:.0f}s")


async def load(url: str, payloads: list[bytes], requests: int, concurrency: int) -> dict:
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal errors
        async with limit:
            start = time.perf_counter()
            try:
                r = await client.post(f"{url}/solve", files={"image": ("c.png", payloads[i % len(payloads)])})
                errors += r.status_code != 200
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, i) for i in range(requests)))
    wall = time.perf_counter() - start
    return {"requests": requests, "concurrency": concurrency, "errors": errors, "seconds": wall,
            "throughput_rps": requests / wall, "p50_ms": statistics.median(latencies),
            "p95_ms": float(np.percentile(latencies, 95))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="running server (loopback only); default: start one")
    parser.add_argument("--checkpoint", help="model for the started server (.onnx, .pth or directory)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.requests > 10_000 or args.concurrency > 64:
        parser.error("bounded test: at most 10000 requests and 64 concurrent")
    server = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(args.checkpoint, port, args.threads) if args.checkpoint else None
        if server is None:
            parser.error("give --url or --checkpoint")
    if urlparse(url).hostname not in LOOPBACK:
        parser.error("only loopback URLs (127.0.0.1, localhost) are allowed")
    try:
        wait_healthy(url)
        payloads = [encode_png(c.image) for c in generated_captchas(16, seed=5)]
        stats = asyncio.run(load(url, payloads, args.requests, args.concurrency))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in stats.items()))
    return 1 if stats["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
