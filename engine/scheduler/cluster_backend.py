"""LocalClusterBackend: ``local-cluster[E,C,M]``, E executor processes with C slots and M MiB each.

What Spark's standalone cluster does on one machine (``StandaloneSchedulerBackend`` with its
Master and Workers folded in): the driver starts each executor as a process
(``python -m engine.executor``), which connects back and registers; the backend posts
``SparkListenerExecutorAdded`` and ``SparkListenerBlockManagerAdded`` for it with executor ids
"0", "1", ... and offers its slots to the task scheduler.

Tasks travel as bytes (``engine.executor.serializer``); a stage's binary is sent once to each
executor. Results come back with task metrics, SQL metric updates (merged here into the driver's
metrics) and process metrics. Executors ask the driver for map output locations.

When an executor process dies, its connection closes: the backend posts
``SparkListenerExecutorRemoved``, deletes the executor's local directory (its shuffle files are
unreachable, as with no external shuffle service), tells the task scheduler (its running tasks
fail with ``ExecutorLostFailure``, its map outputs are forgotten), and starts a replacement
executor with the next id, as a standalone Master does.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Listener

from engine.executor import serializer
from engine.executor.executor_process import AUTHKEY_ENV
from engine.executor.task_runner import Task, TaskBinary
from engine.scheduler import events as ev
from engine.storage import BLOCK_MANAGER_PORT

REGISTRATION_TIMEOUT_S = 120
_KEPT_BINARIES = 32  # serialized stage binaries kept for launching more tasks of recent stages


@dataclass(eq=False)
class _ExecutorRef:
    executor_id: str
    process: subprocess.Popen
    local_dir: str
    conn: object = None
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    binaries: set = field(default_factory=set)  # keys of the stage binaries it holds
    host: str = "localhost"
    alive: bool = True


class LocalClusterBackend:
    def __init__(self, scheduler, bus, conf, env, local_dir: str, num_executors: int, cores: int, memory_mb: int):
        self.scheduler = scheduler
        self.bus = bus
        self.conf = conf
        self.env = env  # the driver's: its shuffle manager is the map output tracker
        self.local_dir = local_dir
        self.num_executors, self.cores, self.memory_mb = num_executors, cores, memory_mb
        self._authkey = secrets.token_bytes(16)
        self._listener = Listener(("127.0.0.1", 0), authkey=self._authkey)
        self._ids = itertools.count(0)
        self._executors: dict[str, _ExecutorRef] = {}
        self._lock = threading.Lock()
        self._binaries: dict[tuple[int, int], tuple[bytes, dict]] = {}
        self._stopping = False
        self._registered = threading.Condition(self._lock)

    # ---- lifecycle ----
    def start(self) -> None:
        """Start the executors and wait until every one has registered."""
        for _ in range(self.num_executors):
            self._start_executor()
        deadline = time.monotonic() + REGISTRATION_TIMEOUT_S
        with self._registered:
            while sum(1 for e in self._executors.values() if e.conn is not None) < self.num_executors:
                left = deadline - time.monotonic()
                dead = [e for e in self._executors.values() if e.process.poll() is not None]
                if dead or left <= 0:
                    raise RuntimeError(
                        f"local-cluster: executor {dead[0].executor_id} exited with code {dead[0].process.returncode} "
                        "before registering" if dead else
                        f"local-cluster: executors did not register within {REGISTRATION_TIMEOUT_S} s")
                self._registered.wait(min(left, 0.2))

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            executors = list(self._executors.values())
        for ref in executors:
            self._send(ref, ("stop",))
        for ref in executors:
            try:
                ref.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                ref.process.kill()
                ref.process.wait()
        self._listener.close()

    def executor_pid(self, executor_id: str) -> int:
        """The process id of a live executor (tests kill it to inject a fault)."""
        return self._executors[executor_id].process.pid

    def _start_executor(self) -> None:
        executor_id = str(next(self._ids))
        local_dir = os.path.join(self.local_dir, f"executor-{executor_id}")
        host, port = self._listener.address
        command = [sys.executable, "-m", "engine.executor", "--driver", f"{host}:{port}",
                   "--executor-id", executor_id, "--cores", str(self.cores), "--memory-mb", str(self.memory_mb),
                   "--local-dir", local_dir]
        environment = {**os.environ, AUTHKEY_ENV: self._authkey.hex(),
                       "PYTHONPATH": os.pathsep.join(filter(None, [_project_root(), os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL)
        with self._lock:
            self._executors[executor_id] = _ExecutorRef(executor_id, process, local_dir)
        threading.Thread(target=self._accept, args=(executor_id,), name=f"executor-{executor_id}-registration",
                         daemon=True).start()

    def _accept(self, executor_id: str) -> None:
        conn = self._listener.accept()
        kind, registered_id, pid, host, cores = conn.recv()
        ref = self._executors[registered_id]
        ref.host = host
        conn.send(("configure", self.conf.getAll()))
        kind, max_memory = conn.recv()
        now = int(time.time() * 1000)
        self.bus.post(ev.SparkListenerExecutorAdded(now, registered_id, host, cores))
        self.bus.post(ev.SparkListenerBlockManagerAdded(now, registered_id, host, BLOCK_MANAGER_PORT, max_memory,
                                                        max_memory))
        with self._registered:
            ref.conn = conn
            self._registered.notify_all()
        self.scheduler.executor_added(registered_id, host, cores)
        self._serve(ref)

    # ---- the scheduler's side ----
    def launch_task(self, executor_id: str, task: Task) -> None:
        ref = self._executors[executor_id]
        binary = task.binary
        payload, _ = self._serialized(binary)
        task_bytes = serializer.dumps(dataclasses.replace(task, binary=None))
        first = binary.key not in ref.binaries
        ref.binaries.add(binary.key)
        self._send(ref, ("launch", task_bytes, binary.key, payload if first else None))

    def kill_task(self, executor_id: str, task_id: int, reason: str) -> None:
        ref = self._executors.get(executor_id)
        if ref is not None:
            self._send(ref, ("kill", task_id, reason))

    def remove_shuffle(self, shuffle_id: int) -> None:
        """Have every executor delete its files of a shuffle (Spark's ``RemoveShuffle`` message)."""
        with self._lock:
            executors = list(self._executors.values())
        for ref in executors:
            self._send(ref, ("remove_shuffle", shuffle_id))

    def _send(self, ref: _ExecutorRef, message: tuple) -> None:
        """Send, ignoring a dead executor: its reader thread reports the loss."""
        if ref.conn is None or not ref.alive:
            return
        try:
            with ref.send_lock:
                ref.conn.send(message)
        except OSError:
            pass

    def _serialized(self, binary: TaskBinary) -> tuple[bytes, dict]:
        """A stage binary's bytes (made once) and the driver's SQL metrics of its plan, by id."""
        found = self._binaries.get(binary.key)
        if found is None:
            found = (serializer.dumps(binary), self._plan_metrics(binary))
            self._binaries[binary.key] = found
            while len(self._binaries) > _KEPT_BINARIES:
                self._binaries.pop(next(iter(self._binaries)))
        return found

    def _plan_metrics(self, binary: TaskBinary) -> dict:
        metrics = {}

        def visit(node):
            for m in node.metrics.values():
                metrics[m.accumulator_id] = m
            hook = getattr(node, "lineage_children", None)
            for child in (hook(self.env.block_manager) if hook else node.children):
                visit(child)

        visit(binary.shuffle if binary.shuffle is not None else binary.plan)
        return metrics

    # ---- one thread per executor: its messages, and its end ----
    def _serve(self, ref: _ExecutorRef) -> None:
        try:
            while True:
                message = ref.conn.recv()
                if message[0] == "status":
                    self._status(message[1], serializer.loads(message[2]))
                elif message[0] == "map_outputs":
                    schema, statuses = self.env.shuffle_manager.shuffle_state(message[2])
                    self._send(ref, ("map_outputs", message[1], schema, statuses))
        except (EOFError, OSError):
            self._executor_exited(ref)

    def _status(self, task_id: int, result) -> None:
        binary = self.scheduler.binary_of(task_id)
        if binary is not None:
            driver_metrics = self._serialized(binary)[1]
            merged = []
            for metric, total in result.accum_updates:
                driver_metric = driver_metrics.get(metric.accumulator_id, metric)
                driver_metric.merge(total)
                merged.append((driver_metric, total))
            result.accum_updates = merged
        self.scheduler.status_update(task_id, result)

    def _executor_exited(self, ref: _ExecutorRef) -> None:
        ref.alive = False
        code = ref.process.wait()
        with self._lock:
            stopping = self._stopping
            self._executors.pop(ref.executor_id, None)
        if stopping:
            return
        reason = f"Command exited with code {code}" if code >= 0 else f"Executor process killed by signal {-code}"
        self.bus.post(ev.SparkListenerExecutorRemoved(int(time.time() * 1000), ref.executor_id, reason))
        shutil.rmtree(ref.local_dir, ignore_errors=True)
        self.scheduler.executor_lost(ref.executor_id, reason)
        self._start_executor()


def _project_root() -> str:
    import engine

    return os.path.dirname(os.path.dirname(os.path.abspath(engine.__file__)))
