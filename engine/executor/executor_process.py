"""An executor process of ``local-cluster[E,C,M]`` (Spark's ``CoarseGrainedExecutorBackend``).

Started by the driver as ``python -m engine.executor --driver HOST:PORT --executor-id ID --cores C
--memory-mb M --local-dir DIR`` with the connection's key in ``$EMBER_EXECUTOR_AUTHKEY``. It
registers, receives the application's configuration, builds its own ``SparkEnv`` (shuffle files
in its own local directory; its memory manager and block manager belong there too) and then
serves the driver's messages until told to stop or the driver goes away:

    driver -> executor: ("launch", task bytes, binary key, binary bytes or None), ("kill", task id, reason),
                        ("map_outputs", request id, schema, statuses), ("stop",)
    executor -> driver: ("register", id, pid, host, cores), ("ready", max memory),
                        ("status", task id, result bytes), ("map_outputs", request id, shuffle id)

A stage's binary arrives once per executor and is deserialized once (its compiled kernels load
from the kernel cache); each task then runs with ``run_task`` on one of C threads.
"""
from __future__ import annotations

import argparse
import itertools
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Client

from engine.executor import serializer
from engine.executor.task_runner import KillSwitch, TaskResult, exception_failure, run_task
from engine.memory.python_gc import freeze_long_lived_objects

AUTHKEY_ENV = "EMBER_EXECUTOR_AUTHKEY"


class _Reply:
    def __init__(self):
        self.ready = threading.Event()
        self.value = None


class ExecutorBackend:
    def __init__(self, conn, executor_id: str, cores: int, memory_mb: int, local_dir: str):
        self.conn = conn
        self.executor_id = executor_id
        self.cores = cores
        self.memory_mb = memory_mb
        self.local_dir = local_dir
        self.env = None
        self._send_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="Executor task launch worker")
        self._binaries: dict[tuple[int, int], object] = {}
        self._switches: dict[int, KillSwitch] = {}
        self._request_ids = itertools.count(0)
        self._replies: dict[int, _Reply] = {}

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self.conn.send(message)

    def register(self) -> None:
        from engine.sql.session import create_env

        self.send(("register", self.executor_id, os.getpid(), socket.gethostname(), self.cores))
        kind, conf_values = self.conn.recv()
        if kind != "configure":
            raise RuntimeError(f"executor {self.executor_id}: expected the configuration, got {kind!r}")
        from engine.sql.conf import RuntimeConfig

        self.env = create_env(RuntimeConfig(conf_values), self.local_dir, self.executor_id,
                              map_output_tracker=self._map_output_locations)
        self.send(("ready", self.memory_mb * 1024 * 1024))

    def serve(self) -> None:
        """Handle the driver's messages until it says stop or disconnects."""
        try:
            while True:
                message = self.conn.recv()
                kind = message[0]
                if kind == "launch":
                    self._launch(*message[1:])
                elif kind == "kill":
                    switch = self._switches.get(message[1])
                    if switch is not None:
                        switch.kill(message[2])
                elif kind == "map_outputs":
                    reply = self._replies.pop(message[1])
                    reply.value = (message[2], message[3])
                    reply.ready.set()
                elif kind == "remove_shuffle":
                    self.env.shuffle_manager.remove_shuffle_files(message[1])
                elif kind == "stop":
                    break
        except (EOFError, OSError):
            pass  # the driver is gone: nothing is left to do
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _map_output_locations(self, shuffle_id: int):
        """Ask the driver's MapOutputTracker for a shuffle's schema and map statuses."""
        reply = _Reply()
        request_id = next(self._request_ids)
        self._replies[request_id] = reply
        self.send(("map_outputs", request_id, shuffle_id))
        reply.ready.wait()
        return reply.value

    def _launch(self, task_bytes: bytes, key: tuple[int, int], binary_bytes: bytes | None) -> None:
        started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
        task = serializer.loads(task_bytes)
        if binary_bytes is not None:
            try:
                self._binaries[key] = serializer.loads(binary_bytes)
            except Exception as e:  # e.g. a udf whose module this process cannot import
                self._binaries[key] = e
        binary = self._binaries[key]
        if isinstance(binary, Exception):
            failure = TaskResult(task.task_id, exception_failure(binary),
                                 error_summary=f"{type(binary).__name__}: cannot load the task: {binary}")
            self.send(("status", task.task_id, serializer.dumps(failure)))
            return
        task.binary = binary
        deserialize = (time.perf_counter_ns() - started, time.thread_time_ns() - cpu_started)
        switch = self._switches[task.task_id] = KillSwitch()
        self._pool.submit(self._run, task, switch, deserialize)

    def _run(self, task, switch: KillSwitch, deserialize: tuple[int, int]) -> None:
        result = run_task(task, self.env, switch, deserialize)
        self._switches.pop(task.task_id, None)
        try:
            payload = serializer.dumps(result)
        except Exception as e:  # a result that cannot travel fails the task, with the reason
            failure = TaskResult(task.task_id, exception_failure(e), metrics=result.metrics,
                                 executor_metrics=result.executor_metrics,
                                 error_summary=f"{type(e).__name__}: cannot send the task result: {e}")
            payload = serializer.dumps(failure)
        self.send(("status", task.task_id, payload))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m engine.executor", description=__doc__.splitlines()[0])
    parser.add_argument("--driver", required=True, help="HOST:PORT of the driver")
    parser.add_argument("--executor-id", required=True)
    parser.add_argument("--cores", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--local-dir", required=True)
    args = parser.parse_args(argv)
    freeze_long_lived_objects()
    host, _, port = args.driver.rpartition(":")
    key = os.environ.get(AUTHKEY_ENV)
    if not key:
        parser.error(f"${AUTHKEY_ENV} is not set: executors are started by the driver")
    conn = Client((host, int(port)), authkey=bytes.fromhex(key))
    backend = ExecutorBackend(conn, args.executor_id, args.cores, args.memory_mb, args.local_dir)
    backend.register()
    backend.serve()
