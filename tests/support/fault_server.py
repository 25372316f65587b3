"""The fault server behind nginx's fault locations (tests/support/servers.py), a separate process.

``/flaky/N/<path>``: the first N requests of each path get ``500``; later ones get an
``X-Accel-Redirect`` to nginx's internal ``/internal-cogs/<path>``, so nginx serves the file
(with its Range handling). ``/truncate/<path>``: the requested byte range is announced in full
(``206``, ``Content-Length``) and half of it is sent before the connection closes.
``/hang/<path>``: nothing is sent for 30 s. ``/switch/<tag>/<path>``: what the state file (``--state``)
says when the request arrives: ``500`` (answer 500), ``truncate`` (as ``/truncate/``) or anything
else / no file (served by nginx): a server that breaks and recovers while a test runs.
``/ping``: ``ok``.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COUNTS: dict[str, int] = {}
STATE: Path | None = None
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    root: Path
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _file(self, rel: str) -> Path | None:
        p = (self.root / rel).resolve()
        return p if p.is_file() and p.is_relative_to(self.root) else None

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            self._send(200, b"ok")
            return
        m = re.match(r"^/flaky/(\d+)/(.+)$", path)
        if m:
            with LOCK:
                COUNTS[path] = COUNTS.get(path, 0) + 1
                n = COUNTS[path]
            if n <= int(m.group(1)):
                self._send(500, b"injected failure")
                return
            self._redirect(m.group(2))
            return
        if path.startswith("/switch/"):
            mode = STATE.read_text().strip() if STATE is not None and STATE.exists() else ""
            rel = path[len("/switch/"):].split("/", 1)[-1]  # /switch/<tag>/<path>: a tag keeps URLs apart
            if mode == "500":
                self._send(500, b"injected failure")
            elif mode == "truncate":
                self._truncated(rel)
            else:
                self._redirect(rel)
            return
        if path.startswith("/hang/"):
            time.sleep(30)
            self._send(504, b"")
            return
        if path.startswith("/truncate/"):
            self._truncated(path[len("/truncate/"):])
            return
        self._send(404, b"not found")

    def _redirect(self, rel: str) -> None:
        self.send_response(200)
        self.send_header("X-Accel-Redirect", f"/internal-cogs/{rel}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _truncated(self, rel: str) -> None:
        f = self._file(rel)
        if f is None:
            self._send(404, b"not found")
            return
        data = f.read_bytes()
        start, end = 0, len(data) - 1
        rng = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if rng:
            start = int(rng.group(1))
            end = min(int(rng.group(2)) if rng.group(2) else len(data) - 1, len(data) - 1)
        body = data[start:end + 1]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
        self.close_connection = True

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", default=None)
    args = ap.parse_args()
    global STATE
    STATE = Path(args.state) if args.state else None
    Handler.root = Path(args.root).resolve()
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
