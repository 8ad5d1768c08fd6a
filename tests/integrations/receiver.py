"""A webhook receiver for the tests, run as its own process: `python receiver.py LOG [options]`.

Records every request (method, path, headers, body) as one JSON line in LOG before answering, and prints
the port it listens on. It imports nothing of Custodian.

--fail-first N   answer 500 to the first N requests, then 200
--status CODE    answer CODE instead of 200 (e.g. 302 with a Location header)
--sleep S        wait S seconds before answering
--body-bytes N   answer with N bytes of body (streamed)
--tls CERT KEY   speak HTTPS with this certificate
"""

from __future__ import annotations

import argparse
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("log")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--status", type=int, default=200)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--body-bytes", type=int, default=2)
parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
options = parser.parse_args()

lock = threading.Lock()
seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        global seen
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        with lock:
            seen += 1
            number = seen
            with open(options.log, "a", encoding="utf-8") as log:
                record = {
                    "method": "POST",
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body.decode("utf-8"),
                    "received_at": time.time(),
                }
                log.write(json.dumps(record) + "\n")
        if options.sleep:
            time.sleep(options.sleep)
        status = 500 if number <= options.fail_first else options.status
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", str(options.body_bytes))
        self.end_headers()
        left = options.body_bytes
        try:
            while left > 0:
                chunk = min(left, 65536)
                self.wfile.write(b"x" * chunk)
                left -= chunk
        except OSError:
            pass  # the client stopped reading (it caps what it reads)

    def log_message(self, format: str, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
if options.tls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*options.tls)
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
