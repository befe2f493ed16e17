"""A real S3 endpoint for tests: moto's server mode on loopback, stoppable mid-test to simulate an outage."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from moto.server import DomainDispatcherApplication, MotoRequestHandler, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

log = logging.getLogger(__name__)

DUMMY_CREDENTIALS = {'aws_access_key_id': 'test', 'aws_secret_access_key': 'test'}


class _TrackingMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer that remembers open connections, so stop() can cut keep-alive sockets too."""

    def __init__(self, ip_address: str, port: int) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._stopping = False

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        server.block_on_close = False  # handler threads die with their sockets; never wait on idle keep-alives
        accept = server.get_request

        def get_request() -> tuple[socket.socket, Any]:
            conn, addr = accept()
            with self._conns_lock:
                if self._stopping:  # an outage starts at once, not when serve_forever next polls
                    conn.close()
                    raise OSError('server is stopping')
                self._conns.add(conn)
            return conn, addr

        server.get_request = get_request  # type: ignore[method-assign]
        self._server = server
        self._server_ready_event.set()
        server.serve_forever(poll_interval=0.05)  # stop() returns quickly

    def stop(self) -> None:
        """Cut every open connection first, then stop serving and close the listening socket."""
        with self._conns_lock:
            self._stopping = True
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        super().stop()
        for conn in conns:
            conn.close()
        if self._server is not None:
            self._server.server_close()


class S3Server:
    """Moto S3 over real HTTP on 127.0.0.1; state lives in moto's process-wide backend, so it survives a restart."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: _TrackingMotoServer | None = None

    def start(self) -> S3Server:
        if self._server is not None:
            return self
        logging.getLogger('werkzeug').setLevel(logging.WARNING)  # one log line per request slows tests down
        server = _TrackingMotoServer('127.0.0.1', self._port)
        server.start()
        self._port = server.get_host_and_port()[1]
        self._server = server
        log.debug('moto S3 listening on %s', self.endpoint_url)
        return self

    def stop(self) -> None:
        """Simulate an outage (or shut down): new and pooled connections both fail from now on."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def restart(self) -> None:
        """Come back on the same port, so clients built earlier keep working."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f'http://127.0.0.1:{self._port}'

    def client(self, **config: Any) -> Any:
        """A plain boto3 client for test set-up and inspection (dummy credentials, never real AWS)."""
        cfg = Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1, 'mode': 'standard'}, **config)
        return boto3.session.Session().client(
            's3', endpoint_url=self.endpoint_url, region_name='us-east-1', config=cfg, **DUMMY_CREDENTIALS
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
