"""Real servers for the remote-input tests, started on localhost by session fixtures.

* :func:`start_stac_api`: a real PostgreSQL (Debian ``postgresql`` with ``postgresql-15-postgis-3``)
  in a temporary folder, run as the unprivileged ``postgres`` user (initdb / pg_ctl), its schema
  loaded by ``pypgstac migrate``, and stac-fastapi-pgstac served by uvicorn over it;
* :func:`start_nginx`: Debian's nginx serving a folder of COGs (Range requests, as any static
  file) with fault-injection locations:

  ====================  =================================================================
  ``/cogs/``            the files, as they are
  ``/slow/``            the files at ``limit_rate`` 256 KiB/s (nginx)
  ``/fault/500/``       every request answered ``500`` (nginx ``return 500``)
  ``/flaky/N/``         the first N requests of each path answered ``500`` by the fault server,
                        the rest served by nginx itself (``X-Accel-Redirect`` to ``/cogs/``)
  ``/truncate/``        the fault server announces the full ``Content-Length`` of the range and
                        sends half of it, then closes: nginx passes the short body on
  ``/hang/``            the fault server accepts and sends nothing for 30 s (client timeouts)
  ``/switch/``          500, truncated or served, as the file :attr:`Nginx.state` says when the
                        request comes (a server that breaks and recovers during a test)
  ====================  =================================================================

  The fault server (``python tests/support/fault_server.py``) is a separate process behind
  nginx's ``proxy_pass``. Every request nginx sees is logged in ``access.log`` (with its Range).

Where a server cannot be started (packages missing, not root) the fixtures skip the tests that
need them with the reason, or fail them where ``LANDPULSE_REQUIRE`` lists ``stac-api`` / ``nginx``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class ServerUnavailable(RuntimeError):
    """A server cannot be started here (the message says why)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise ServerUnavailable(f"server for {url} exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise ServerUnavailable(f"{url} did not answer within {timeout:.0f} s")


# ----------------------------------------------------------------------------------------------
# nginx + fault server


@dataclass
class Nginx:
    """A running nginx: base URL, its access log, and the processes to stop."""

    url: str
    root: Path
    log: Path
    state: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def fault(self, mode: str) -> None:
        """Set what ``/switch/`` does from now on: ``500``, ``truncate`` or ``ok``."""
        self.state.write_text(mode)

    def requests(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


_NGINX_CONF = """
{user}
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    types {{ image/tiff tif tiff; application/json json; }}
    default_type application/octet-stream;
    log_format ranges '$request_uri $status $http_range $body_bytes_sent auth=$http_authorization';
    access_log {tmp}/access.log ranges;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    sendfile on;
    keepalive_requests 10000;
    server {{
        listen 127.0.0.1:{port};
        location = /ping {{ return 200 ok; }}
        location /cogs/ {{ alias {root}/; }}
        location /internal-cogs/ {{ internal; alias {root}/; }}
        location /slow/ {{ alias {root}/; limit_rate 256k; }}
        location /fault/500/ {{ return 500; }}
        location /flaky/ {{ proxy_pass http://127.0.0.1:{fault_port}; proxy_set_header Range $http_range; }}
        location /truncate/ {{ proxy_pass http://127.0.0.1:{fault_port}; proxy_set_header Range $http_range;
                              proxy_buffering off; }}
        location /switch/ {{ proxy_pass http://127.0.0.1:{fault_port}; proxy_set_header Range $http_range;
                            proxy_buffering off; }}
        location /hang/ {{ proxy_pass http://127.0.0.1:{fault_port}; proxy_read_timeout 60s; }}
    }}
}}
"""


def start_nginx(root: Path, tmp: Path) -> Nginx:
    """nginx over ``root`` (files under ``<url>/cogs/``) with the fault locations of the module doc."""
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if exe is None:
        raise ServerUnavailable("nginx is not installed (Debian: apt-get install nginx; .ci/run does)")
    tmp.mkdir(parents=True, exist_ok=True)
    port, fault_port = free_port(), free_port()
    conf = tmp / "nginx.conf"
    # as root, nginx's workers would run as nobody, who cannot enter pytest's private temp folders
    user = "user root;" if os.getuid() == 0 else ""
    conf.write_text(_NGINX_CONF.format(user=user, tmp=tmp, port=port, fault_port=fault_port, root=root.resolve()))
    flog = open(tmp / "fault.log", "wb")
    fault = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fault_server.py")),
                              "--root", str(root.resolve()), "--port", str(fault_port),
                              "--state", str(tmp / "fault-mode")],
                             stdout=flog, stderr=subprocess.STDOUT)
    nlog = open(tmp / "nginx.out", "wb")
    proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(tmp)], stdout=nlog, stderr=subprocess.STDOUT)
    server = Nginx(f"http://127.0.0.1:{port}", root, tmp / "access.log", tmp / "fault-mode", [proc, fault])
    try:
        _wait_http(f"http://127.0.0.1:{fault_port}/ping", fault, 20, tmp / "fault.log")
        _wait_http(f"{server.url}/ping", proc, 20, tmp / "error.log")
    except ServerUnavailable:
        server.stop()
        raise
    return server


# ----------------------------------------------------------------------------------------------
# PostgreSQL + pgstac + stac-fastapi-pgstac


@dataclass
class StacApi:
    """A running STAC API: its URL, the database's DSN, and the processes to stop."""

    url: str
    dsn: str
    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pg_data: Path | None = None

    def load(self, collection: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> None:
        """Insert (or update) a collection and its items through pypgstac's loader."""
        from pypgstac.db import PgstacDB
        from pypgstac.load import Loader, Methods

        with PgstacDB(dsn=self.dsn) as db:
            loader = Loader(db=db)
            loader.load_collections(iter([dict(collection)]), insert_mode=Methods.upsert)
            loader.load_items(iter([dict(i) for i in items]), insert_mode=Methods.upsert)

    def delete_items(self, collection: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("SET search_path TO pgstac, public")
            conn.execute("DELETE FROM items WHERE collection = %s", (collection,))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self.pg_data is not None:
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.pg_data), "-m", "fast", "stop"], check=False)
            shutil.rmtree(self.pg_data.parent, ignore_errors=True)


def _as_postgres(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)


def start_stac_api(tmp: Path) -> StacApi:
    """PostgreSQL + pgstac + stac-fastapi-pgstac on free localhost ports."""
    if not (PG_BIN / "initdb").exists():
        raise ServerUnavailable(f"PostgreSQL 15 is not installed ({PG_BIN}; Debian: postgresql)")
    if not Path("/usr/share/postgresql/15/extension/postgis.control").exists():
        raise ServerUnavailable("PostGIS is not installed (Debian: postgresql-15-postgis-3), pgstac needs it")
    try:
        import pypgstac  # noqa: F401
        import stac_fastapi.pgstac  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ServerUnavailable(f"stac-fastapi-pgstac / pypgstac missing ({err}); pip install -e '.[dev]'") from err
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as err:
            raise ServerUnavailable("no 'postgres' user to run PostgreSQL as") from err
    tmp.mkdir(parents=True, exist_ok=True)
    # the database lives in a folder of its own under /tmp: the postgres user cannot enter
    # pytest's temporary folders (private to root); removed by StacApi.stop
    pg_root = Path(tempfile.mkdtemp(prefix="landpulse-pgstac-"))
    data = pg_root / "pgdata"
    data.mkdir()
    if os.getuid() == 0:
        shutil.chown(pg_root, "postgres")
        shutil.chown(data, "postgres")
    try:
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"])
    except subprocess.CalledProcessError as err:
        raise ServerUnavailable(f"initdb failed: {err.stderr[-1000:]}") from err
    port = free_port()
    opts = f"-p {port} -k {pg_root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    res = _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(pg_root / "pg.log"),
                        "-w", "-t", "60", "start"], check=False)
    if res.returncode != 0:
        log = (pg_root / "pg.log").read_text()[-1500:] if (pg_root / "pg.log").exists() else ""
        shutil.rmtree(pg_root, ignore_errors=True)
        raise ServerUnavailable(f"PostgreSQL did not start: {res.stderr[-500:]} {log}")
    dsn = f"postgresql://postgres:landpulse@127.0.0.1:{port}/postgres"
    api = StacApi("", dsn, tmp, pg_data=data)
    try:
        mig = subprocess.run([str(Path(sys.executable).with_name("pypgstac")), "migrate", "--dsn", dsn],
                             capture_output=True, text=True, timeout=300)
        if mig.returncode != 0:
            raise ServerUnavailable(f"pypgstac migrate failed: {mig.stderr[-1500:]}")
        api_port = free_port()
        env = {**os.environ, "PGUSER": "postgres", "PGPASSWORD": "landpulse", "PGHOST": "127.0.0.1",
               "PGPORT": str(port), "PGDATABASE": "postgres", "ENABLE_TRANSACTIONS_EXTENSIONS": "false",
               "WEB_CONCURRENCY": "1"}
        log = open(tmp / "api.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        api.procs.append(proc)
        api.url = f"http://127.0.0.1:{api_port}"
        _wait_http(f"{api.url}/_mgmt/ping", proc, 60, tmp / "api.log")
    except BaseException:
        api.stop()
        raise
    return api


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())
