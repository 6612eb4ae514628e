"""Spark's own History Server, started from the installed pyspark, for tests.

The History Server is the reference reader of event logs: an application it lists, with the jobs,
stages and tasks we expect, is a log Spark accepts. ::

    with history_server(log_dir) as hs:
        hs.wait_for_application("local-1700000000000")
        assert [j["status"] for j in hs.jobs("local-1700000000000")] == ["SUCCEEDED"]

Start-up takes about 5 s (one JVM); share one server per test module. The server rescans the log
directory every second, so logs written after it started show up too.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

START_TIMEOUT_S = 90.0
APPLICATION_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.25
HISTORY_SERVER_CLASS = "org.apache.spark.deploy.history.HistoryServer"


def spark_home() -> Path:
    """The installed pyspark package's folder: it holds ``bin/spark-class`` and the jars."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


class HistoryServerClient:
    """A few calls of the History Server's REST API (``/api/v1``), as decoded JSON."""

    def __init__(self, port: int, process: subprocess.Popen, output_path: Path, log_dir: Path):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}/api/v1"
        self.log_dir = log_dir
        self._process = process
        self._output_path = output_path

    def get(self, path: str, timeout: float = 30.0) -> Any:
        """GET ``/api/v1/<path>`` and decode the JSON answer."""
        with urllib.request.urlopen(f"{self.base_url}/{path.lstrip('/')}", timeout=timeout) as r:
            return json.load(r)

    def applications(self) -> list[dict[str, Any]]:
        return self.get("applications")

    def application(self, app_id: str) -> dict[str, Any]:
        return self.get(f"applications/{app_id}")

    def jobs(self, app_id: str) -> list[dict[str, Any]]:
        return self.get(f"applications/{app_id}/jobs")

    def stages(self, app_id: str) -> list[dict[str, Any]]:
        return self.get(f"applications/{app_id}/stages")

    def tasks(self, app_id: str, stage_id: int, attempt_id: int = 0) -> list[dict[str, Any]]:
        return self.get(f"applications/{app_id}/stages/{stage_id}/{attempt_id}/taskList?length=10000")

    def executors(self, app_id: str) -> list[dict[str, Any]]:
        return self.get(f"applications/{app_id}/allexecutors")

    def server_output(self) -> str:
        """Everything the server printed (its log4j output)."""
        return self._output_path.read_text(errors="replace")

    def wait_for_application(
        self, app_id: str, *, completed: bool = True, timeout: float = APPLICATION_TIMEOUT_S
    ) -> dict[str, Any]:
        """Poll until ``app_id`` is listed (and its last attempt completed, if asked).

        Fails with the listing, the log directory's files and the server's output, which says
        why a log was rejected.
        """
        deadline = time.monotonic() + timeout
        listed: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            self._check_alive()
            listed = self.applications()
            for app in listed:
                if app["id"] == app_id and (not completed or app["attempts"][-1]["completed"]):
                    return app
            time.sleep(POLL_INTERVAL_S)
        files = sorted(str(p.relative_to(self.log_dir)) for p in self.log_dir.rglob("*"))
        raise AssertionError(
            f"History Server did not list application {app_id!r}"
            f"{' as completed' if completed else ''} within {timeout:.0f} s.\n"
            f"listed: {[(a['id'], a['attempts'][-1]['completed']) for a in listed]}\n"
            f"log directory {self.log_dir}: {files}\n"
            f"server output:\n{self.server_output()}"
        )

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self.applications()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException, ValueError):
                # not listening yet, or listening before its REST API answers with JSON
                time.sleep(POLL_INTERVAL_S)
        raise AssertionError(
            f"History Server did not answer on port {self.port} within {timeout:.0f} s.\n"
            f"server output:\n{self.server_output()}"
        )

    def _check_alive(self) -> None:
        code = self._process.poll()
        if code is not None:
            raise AssertionError(
                f"History Server exited with code {code}.\nserver output:\n{self.server_output()}"
            )


@contextlib.contextmanager
def history_server(
    log_dir: str | os.PathLike[str], *, start_timeout: float = START_TIMEOUT_S
) -> Iterator[HistoryServerClient]:
    """Run Spark's History Server over ``log_dir`` on a free port of 127.0.0.1.

    Yields a client once the REST API answers; kills the server (its whole process group) on exit.
    """
    log_dir = Path(log_dir).resolve()
    home = spark_home()
    port = _free_port()
    opts = [
        f"-Dspark.history.fs.logDirectory={log_dir.as_uri()}",
        f"-Dspark.history.ui.port={port}",
        "-Dspark.history.fs.update.interval=1s",
        # Fail rather than silently move to the next port if ours was taken meanwhile.
        "-Dspark.port.maxRetries=0",
    ]
    env = {k: v for k, v in os.environ.items() if k != "SPARK_CONF_DIR"}
    env.update(SPARK_HOME=str(home), SPARK_LOCAL_IP="127.0.0.1", SPARK_HISTORY_OPTS=" ".join(opts))
    with tempfile.TemporaryDirectory(prefix="spark-history-") as tmp:
        output_path = Path(tmp) / "history-server.out"
        with open(output_path, "wb") as output:
            process = subprocess.Popen(
                [str(home / "bin" / "spark-class"), HISTORY_SERVER_CLASS],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=tmp,
                start_new_session=True,  # its own process group: killed as one below
            )
            try:
                client = HistoryServerClient(port, process, output_path, log_dir)
                client._wait_until_ready(start_timeout)
                yield client
            finally:
                _kill_group(process)


def _kill_group(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
