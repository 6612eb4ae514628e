"""LocalSchedulerBackend: ``local[N]``, one executor (the driver) with N task threads.

Kernels release the GIL, so the threads run compiled stages in parallel. Tasks run through the
same ``run_task`` as in an executor process, on the driver's own ``SparkEnv``.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from engine.executor.task_runner import KillSwitch, Task, run_task

DRIVER_EXECUTOR_ID = "driver"


class LocalSchedulerBackend:
    def __init__(self, scheduler, env, slots: int):
        self.scheduler = scheduler
        self.env = env
        self.slots = slots
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="Executor task launch worker")
        self._switches: dict[int, KillSwitch] = {}

    def start(self) -> None:
        self.scheduler.executor_added(DRIVER_EXECUTOR_ID, self.env.host, self.slots)

    def launch_task(self, executor_id: str, task: Task) -> None:
        switch = self._switches[task.task_id] = KillSwitch()
        self._pool.submit(self._run, task, switch)

    def kill_task(self, executor_id: str, task_id: int, reason: str) -> None:
        switch = self._switches.get(task_id)
        if switch is not None:
            switch.kill(reason)

    def remove_shuffle(self, shuffle_id: int) -> None:
        """Delete a shuffle's files: map tasks ran here, on the driver's own shuffle manager."""
        self.env.shuffle_manager.remove_shuffle_files(shuffle_id)

    def _run(self, task: Task, switch: KillSwitch) -> None:
        result = run_task(task, self.env, switch)
        self._switches.pop(task.task_id, None)
        self.scheduler.status_update(task.task_id, result)

    def stop(self) -> None:
        self._pool.shutdown(wait=True)
