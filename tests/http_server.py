"""A local HTTP file server for download tests (127.0.0.1 only, in a thread)."""

from __future__ import annotations

import http.server
import socket
import threading

GATE_TIMEOUT_S = 30.0
"""Longest a gated response waits for its gate (a test that forgets to open it still ends)."""


class FileServer:
    """Serves :attr:`files` (URL path -> bytes) on 127.0.0.1.

    Attributes
    ----------
    ranges : bool
        Honour ``Range: bytes=N-`` (206 with Content-Range; 416 past the end).
    cut_at : int or None
        The next response stops after this many bytes of the file (a dropped connection).
    gate_at : int or None
        Responses pause after this many bytes until :attr:`gate` is set (act mid-download).
    requests : list
        The ``Range`` header of every request, in order (None without one).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges = True
        self.cut_at: int | None = None
        self.gate = threading.Event()
        self.gate_at: int | None = None
        self.requests: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = server.files.get(self.path)
                wanted = self.headers.get("Range")
                server.requests.append(wanted)
                if data is None:
                    self.send_error(404)
                    return
                start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted and server.ranges else 0
                if start >= len(data) and wanted:
                    self.send_error(416)
                    return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                end = len(data) if server.cut_at is None else server.cut_at
                server.cut_at = None
                pause = end if server.gate_at is None else max(start, min(server.gate_at, end))
                self.wfile.write(data[start:pause])
                if pause < end:
                    self.wfile.flush()
                    server.gate.wait(GATE_TIMEOUT_S)
                    self.wfile.write(data[pause:end])

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FileServer:
        """Start serving; returns self."""
        self.thread.start()
        return self

    def url(self, path: str) -> str:
        """The full URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        """Release any gated response, stop serving and close the socket."""
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def unreachable_url(path: str) -> str:
    """A URL on 127.0.0.1 at a port nothing listens on (the connection is refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
