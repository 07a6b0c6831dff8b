"""deploy/haproxy/threadpress.cfg against a real HAProxy and two real HTTP servers: a GET
that fails on one app server is answered by the other, a POST is never sent twice.

Skipped with a reason when ``haproxy`` is not installed (``.ci/install-edge-tools.sh``
installs it).
"""

import http.client
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "haproxy" / "threadpress.cfg"

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None, reason="haproxy is not installed (apt-get install haproxy)"
)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppServer(ThreadingHTTPServer):
    """An app server on 127.0.0.1 that counts the requests it receives and answers
    ``/healthz``; ``drops``: every other request is read, then the connection is closed
    without an answer (a worker killed under the request)."""

    daemon_threads = True

    def __init__(self, name, *, drops=False):
        self.name, self.drops, self.seen = name, drops, Counter()
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/healthz":
            body = b"ok\n"
        else:
            self.server.seen[self.command] += 1
            if self.server.drops:
                self.close_connection = True
                return
            body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def haproxy(tmp_path):
    """Start HAProxy with the project's config in front of ``app1`` and ``app2``
    (addresses), the way benchmarks/edge.sh does; returns the frontend's port."""
    processes = []

    def start(app1, app2):
        port, stats = free_port(), free_port()
        env = {
            **os.environ,
            "HAPROXY_BIND": f"127.0.0.1:{port}",
            "HAPROXY_STATS_BIND": f"127.0.0.1:{stats}",
            "APP1": app1,
            "APP2": app2,
            "HAPROXY_CHECK_HOST": "127.0.0.1",
            "HAPROXY_STATS_SOCKET": str(tmp_path / "haproxy.sock"),
        }
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(CONFIG)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return port
            except OSError:
                time.sleep(0.02)
        pytest.fail("HAProxy did not start")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def request(port, method, path="/page"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = b"comment=hello" if method == "POST" else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_config_is_valid_with_the_documented_variables(tmp_path):
    """``haproxy -c`` accepts the config once the variables its header lists are set."""
    env = {
        **os.environ,
        "HAPROXY_BIND": "127.0.0.1:8080",
        "HAPROXY_STATS_BIND": "127.0.0.1:8404",
        "APP1": "127.0.0.1:8001",
        "APP2": "127.0.0.1:8002",
        "HAPROXY_CHECK_HOST": "localhost",
        "HAPROXY_STATS_SOCKET": str(tmp_path / "haproxy.sock"),
    }
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_get_to_a_dead_app_server_is_answered_by_the_other(haproxy):
    """A GET sent to an app server that refuses connections (killed, not yet marked
    down by the health checks) is retried on the other one: no failed GET."""
    alive = AppServer("app2")
    dead_port = free_port()  # nothing listens there
    port = haproxy(f"127.0.0.1:{dead_port}", alive.address)
    statuses = Counter(request(port, "GET") for _ in range(20))
    assert statuses == {200: 20}
    assert alive.seen["GET"] == 20


def test_get_cut_off_without_an_answer_is_retried_on_the_other_server(haproxy):
    """A GET whose connection closes without an answer (the worker died under it) is
    sent again, to the other app server: the reader gets the page."""
    dropping, alive = AppServer("app1", drops=True), AppServer("app2")
    port = haproxy(dropping.address, alive.address)
    statuses = Counter(request(port, "GET") for _ in range(20))
    assert statuses == {200: 20}
    assert dropping.seen["GET"] >= 1  # some did reach the failing server first


def test_post_cut_off_without_an_answer_is_not_sent_again(haproxy):
    """A POST that reached an app server is never retried (a comment must not be
    stored twice): the one cut off gets an error, and no server saw it twice."""
    dropping, alive = AppServer("app1", drops=True), AppServer("app2")
    port = haproxy(dropping.address, alive.address)
    statuses = Counter(request(port, "POST") for _ in range(20))
    assert dropping.seen["POST"] >= 1
    assert dropping.seen["POST"] + alive.seen["POST"] == 20  # each POST sent once
    assert statuses[200] == alive.seen["POST"]
    assert statuses[502] == dropping.seen["POST"]
