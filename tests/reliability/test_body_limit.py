"""Figure: bodies over the limit read into memory (0), measured on a real gunicorn worker.

Unsigned 300 MB bodies (generated as they are sent, never held by the test) go to /webhooks/stripe,
/login and /users, with a Content-Length and chunked. The worker must answer 413 without reading
a declared body at all, read a chunked one no further than MAX_CONTENT_LENGTH, and its peak
memory (VmHWM) must stay flat. Finding 8: the webhook alone grew a worker by 1.2 GB.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import TestingConfig

MB = 1024 * 1024
BODY_SIZE = 300 * MB
LIMIT = TestingConfig.MAX_CONTENT_LENGTH
#: What a worker may grow by while refusing every body: far below even one body read whole.
MAX_GROWTH = 32 * MB
ROOT = Path(__file__).resolve().parents[2]
TARGETS = [
    ("/webhooks/stripe", "application/json"),
    ("/login", "application/x-www-form-urlencoded"),
    ("/users", "application/json"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("gunicorn started no worker")


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def gunicorn_portal(tmp_path):
    port, log = _free_port(), tmp_path / "bodies.log"
    env = {
        **os.environ,
        "BODY_LIMIT_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite'}",
        "BODY_LIMIT_LOG": str(log),
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    command += ["--threads", "4", "--timeout", "120", "tests.reliability.body_limit_app:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):  # up to 30 s on a busy machine
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.1)
        yield port, _worker_pid(server.pid), log
    finally:
        server.terminate()
        server.wait(timeout=10)


def _frames(size: int, chunked: bool):
    """The body, 64 KB at a time, in chunked framing when asked."""
    block = b"a" * (64 * 1024)
    for _ in range(size // len(block)):
        yield b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
    if chunked:
        yield b"0\r\n\r\n"


def send_streamed(port: int, path: str, content_type: str, chunked: bool) -> tuple[int, bytes, int]:
    """POST a 300 MB body until the server answers; (status, response, body bytes sent)."""
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_SIZE}"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{length}\r\n\r\n"
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(head.encode())
    sock.setblocking(False)
    sent, pending, frames = 0, b"", _frames(BODY_SIZE, chunked)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                break  # the answer came: stop sending, as a browser or Stripe does
            if writable:
                pending = pending or next(frames, b"")
                if not pending:
                    break
                count = sock.send(pending)
                sent, pending = sent + count, pending[count:]
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.setblocking(True)
    response = b""
    try:
        while b"\r\n\r\n" not in response or len(response) < response.index(b"\r\n\r\n") + 200:
            data = sock.recv(65536)
            if not data:
                break
            response += data
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0
    return status, response, sent


def _logged_posts(log: Path, expected: int) -> list[list[str]]:
    """The worker logs a request once its response is closed: wait for the last one."""
    for _ in range(100):
        reads = [line.split() for line in log.read_text().splitlines() if line.startswith("POST")]
        if len(reads) >= expected:
            return reads
        time.sleep(0.05)
    raise AssertionError(f"the worker logged {len(reads)} of {expected} requests")


def test_no_body_over_the_limit_is_read_into_memory(gunicorn_portal, figure):
    port, worker, log = gunicorn_portal
    warm = socket.create_connection(("127.0.0.1", port))
    warm.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    while warm.recv(65536):
        pass
    warm.close()
    before = peak_rss(worker)

    answers = []
    for path, content_type in TARGETS:
        for chunked in (False, True):
            status, response, sent = send_streamed(port, path, content_type, chunked)
            answers.append((path, "chunked" if chunked else "Content-Length", status, sent))
            assert status == 413, (path, chunked, response[:300])
            assert b"too large" in response
    growth = peak_rss(worker) - before

    reads = _logged_posts(log, len(answers))
    declared = [int(read) for _, _, length, read in reads if length != "-"]
    streamed = [int(read) for _, _, length, read in reads if length == "-"]
    over_the_limit = [read for read in declared + streamed if read > LIMIT]
    assert declared == [0] * len(TARGETS)  # a declared body over the limit is not read at all
    assert over_the_limit == []
    assert growth < MAX_GROWTH, f"worker peak memory grew by {growth / MB:.0f} MB"
    figure(
        "body_limit",
        len(over_the_limit),
        f"bodies over the limit read into memory ({len(answers)} unsigned 300 MB bodies to "
        f"{', '.join(path for path, _ in TARGETS)}, Content-Length and chunked, each 413; "
        f"0 bytes of a declared body read, at most {max(streamed) // 1024} KB of a chunked one; "
        f"worker peak memory +{growth / MB:.0f} MB)",
    )
