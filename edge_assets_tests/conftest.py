"""Shared fixtures: isolated Dagster/MLflow homes, a real local S3 server, a scripted local HTTP
server and the real recorded API responses."""

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_assets_tests.scripted_server import ScriptedServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
REAL_FIXTURES = SHARED / "fixtures" / "real"


@pytest.fixture(autouse=True, scope="session")
def _isolated_homes(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "1"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL_FIXTURES.is_dir():
        pytest.skip(f"real API recordings not available: {REAL_FIXTURES} is absent (needs ../shared)")
    return REAL_FIXTURES


def load_real(name: str) -> Any:
    """Load one real recording by file name, skipping the test when ../shared is absent."""
    path = REAL_FIXTURES / name
    if not path.is_file():
        pytest.skip(f"real API recording {name} not available (needs ../shared/fixtures/real)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """A real S3-compatible server (moto in server mode) with the bucket `edge-lake`; its endpoint."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {
        k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    endpoint = f"http://{host}:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="edge-lake")
    try:
        yield endpoint
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    cmd: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    port: int,
    timeout_s: float,
    group_stop: bool,
) -> Iterator[str]:
    """A Dagster webserver started by ``cmd`` on ``port``, its URL once /server_info answers (its
    log's tail if it never does). Stopped with SIGTERM: to its process group, or (``group_stop``
    False) to the process alone, which must pass it on; SIGKILL to the group after 60 s."""
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not start:\n" + log.read_text()[-3000:])
                time.sleep(0.5)
            yield url
        finally:
            if group_stop:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# what the UI's "Materialize all" over a partition range sends
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
