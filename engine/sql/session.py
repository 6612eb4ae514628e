"""``SparkSession``: the entry point, with PySpark's builder, and the services behind it.

    spark = (SparkSession.builder.master("local[2]").appName("demo")
             .config("spark.sql.shuffle.partitions", 8).getOrCreate())

A session owns what Spark's driver owns: the configuration, the listener bus with the event-log
listener (on by default: profiling is the point), the DAG and task schedulers, the shuffle files
and the block manager. ``stop()`` finishes the event log; an application that forgets to stop is
stopped at interpreter exit so its log is complete.
"""
from __future__ import annotations

import atexit
import getpass
import itertools
import os
import platform
import socket
import sys
import threading
import time
from dataclasses import dataclass


from engine.catalyst import logical as L
from engine.catalyst.expressions import AttributeReference
from engine.memory import UnifiedMemoryManager
from engine.memory.native import configure_native_memory
from engine.memory.python_gc import freeze_long_lived_objects
from engine.scheduler import events as ev
from engine.scheduler.app_status import AppStatusListener
from engine.scheduler.cluster_backend import LocalClusterBackend
from engine.scheduler.context_cleaner import ContextCleaner
from engine.scheduler.dag_scheduler import DAGScheduler
from engine.scheduler.event_logging_listener import EventLoggingListener
from engine.scheduler.listener_bus import LiveListenerBus
from engine.scheduler.local_backend import LocalSchedulerBackend
from engine.scheduler.task_scheduler import TaskSchedulerImpl
from engine.shuffle.manager import ShuffleManager
from engine.sql.conf import DEFAULTS, RuntimeConfig, parse_local_cluster, parse_master
from engine.sql.types import LongType
from engine.storage import BLOCK_MANAGER_PORT, BlockManager

EMBER_VERSION = "0.1.0"


@dataclass
class SparkEnv:
    """What tasks reach through their context (Spark's ``SparkEnv``)."""

    conf: RuntimeConfig
    shuffle_manager: ShuffleManager
    block_manager: BlockManager
    executor_id: str = "driver"
    host: str = "localhost"
    memory_manager: UnifiedMemoryManager | None = None

    def __post_init__(self):
        # local mode: the driver is the executor, sized by spark.driver.memory
        if self.memory_manager is None:
            self.memory_manager = UnifiedMemoryManager.from_conf(self.conf, executor_is_driver=self.executor_id == "driver")
        self.block_manager.bind_memory_manager(self.memory_manager)


def create_env(conf: RuntimeConfig, local_dir: str, executor_id: str = "driver", host: str = "localhost",
               map_output_tracker=None) -> SparkEnv:
    """The services of one executor: the driver's in ``local[N]``, each executor process's own in
    ``local-cluster`` (which passes ``map_output_tracker`` to ask the driver where map outputs are).
    Per-executor services (memory, blocks) are built here, from the application's configuration."""
    configure_native_memory(conf)
    codec = "lz4" if conf.get_bool("spark.shuffle.compress") else None
    checksum = conf.get("spark.shuffle.checksum.algorithm").upper() if conf.get_bool(
        "spark.shuffle.checksum.enabled") else None
    shuffle = ShuffleManager(os.path.join(local_dir, "shuffle"), codec, executor_id, checksum, map_output_tracker)
    return SparkEnv(conf, shuffle, BlockManager(os.path.join(local_dir, "blocks")), executor_id, host)


submit_conf: dict[str, str] = {}
"""Configuration given at submit time (``ember run --conf k=v``), under the builder's own, as
``spark-submit --conf`` is."""


class _Builder:
    def __init__(self):
        self._options: dict[str, str] = {}

    def master(self, master: str) -> _Builder:
        self._options["spark.master"] = master
        return self

    def appName(self, name: str) -> _Builder:  # noqa: N802 - PySpark's name
        self._options["spark.app.name"] = name
        return self

    def config(self, key: str | None = None, value=None, conf: dict | None = None) -> _Builder:
        for k, v in (conf or {}).items():
            self._options[k] = _conf_value(v)
        if key is not None:
            self._options[key] = _conf_value(value)
        return self

    def getOrCreate(self) -> SparkSession:  # noqa: N802
        with SparkSession._lock:
            active = SparkSession._active
            if active is not None and not active._stopped:
                for k, v in self._options.items():
                    active.conf.set(k, v)
                return active
            session = SparkSession({**submit_conf, **self._options})
            SparkSession._active = session
            return session


def _conf_value(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class _BuilderDescriptor:
    def __get__(self, obj, owner) -> _Builder:
        return _Builder()


class SparkSession:
    """One Ember application. Create it with ``SparkSession.builder ... .getOrCreate()``."""

    builder = _BuilderDescriptor()
    _active: SparkSession | None = None
    _lock = threading.RLock()
    finished: list[SparkSession] = []  # stopped sessions of this process, for `ember run`

    def __init__(self, options: dict[str, str]):
        freeze_long_lived_objects()
        self.conf = RuntimeConfig(options)
        self.slots, max_failures = parse_master(self.conf.get("spark.master"))
        cluster = parse_local_cluster(self.conf.get("spark.master"))
        if cluster is not None and "spark.executor.memory" not in options:
            self.conf.set("spark.executor.memory", f"{cluster[2]}m")
        if "spark.task.maxFailures" not in options:
            self.conf.set("spark.task.maxFailures", max_failures)
        if "spark.default.parallelism" not in options:
            self.conf.set("spark.default.parallelism", self.slots)
        self.start_time = int(time.time() * 1000)
        self.app_id = f"local-{self.start_time}"
        self.app_name = self.conf.get("spark.app.name")
        local_dir = os.path.join(self.conf.get("spark.local.dir"), f"ember-{self.app_id}-{os.getpid()}")
        self.env = create_env(self.conf, local_dir, host=_host())
        self._local_dir = local_dir
        self.bus = LiveListenerBus()
        self.status = AppStatusListener()
        self.bus.add_listener(self.status)
        self.event_log: EventLoggingListener | None = None
        if self.conf.get_bool("spark.eventLog.enabled"):
            self.event_log = EventLoggingListener(self.app_id, self.conf.getAll())
            self.event_log.start()
            self.bus.add_listener(self.event_log)
        for name in filter(None, (n.strip() for n in self.conf.get("spark.extraListeners", "").split(","))):
            self.bus.add_listener(_instantiate(name))
        self.bus.start()
        self.task_scheduler = TaskSchedulerImpl(self.conf, self.bus)
        self.cleaner = (ContextCleaner(self.env.shuffle_manager)
                        if self.conf.get_bool("spark.cleaner.referenceTracking") else None)
        self.dag_scheduler = DAGScheduler(self.env, self.bus, self.task_scheduler, self.cleaner)
        if cluster is None:
            self.backend = LocalSchedulerBackend(self.task_scheduler, self.env, self.slots)
        else:
            self.backend = LocalClusterBackend(self.task_scheduler, self.bus, self.conf, self.env, local_dir, *cluster)
        self.task_scheduler.start(self.backend)
        if self.cleaner is not None:
            self.cleaner.start(self.backend)
        from engine.sql.cache_manager import CacheManager

        self.cache_manager = CacheManager(self)
        self._execution_ids = itertools.count(0)
        self._stopped = False
        self._post_startup_events(local=cluster is None)
        atexit.register(self.stop)
        self.backend.start()

    # ---- PySpark API ----
    @property
    def version(self) -> str:
        return EMBER_VERSION

    @property
    def sparkContext(self):  # noqa: N802
        return self

    @property
    def applicationId(self) -> str:  # noqa: N802
        return self.app_id

    @property
    def defaultParallelism(self) -> int:  # noqa: N802
        return int(self.conf.get("spark.default.parallelism"))

    @property
    def read(self):
        from engine.sql.readwriter import DataFrameReader

        return DataFrameReader(self)

    def range(self, start: int, end: int | None = None, step: int = 1, numPartitions: int | None = None):  # noqa: N803
        """A DataFrame with one ``id`` column (bigint) from ``start`` to ``end`` (exclusive)."""
        from engine.sql.dataframe import DataFrame

        if end is None:
            start, end = 0, start
        if step == 0:
            raise ValueError("step must not be 0")
        slices = numPartitions or self.defaultParallelism
        node = L.Range(start, end, step, slices, (AttributeReference("id", LongType(), False),))
        return DataFrame(self, node)

    def createDataFrame(self, data, schema=None):  # noqa: N802
        """A DataFrame from rows (tuples, Rows, dicts), a pandas DataFrame or a pyarrow Table."""
        from engine.sql.dataframe import DataFrame
        from engine.sql.local_data import to_local_relation

        return DataFrame(self, to_local_relation(data, schema))

    def stop(self) -> None:
        """End the application: finish and close the event log, remove shuffle files."""
        with SparkSession._lock:
            if self._stopped:
                return
            self._stopped = True
            if SparkSession._active is self:
                SparkSession._active = None
        if self.cleaner is not None:
            self.cleaner.stop()
        self.backend.stop()
        self.task_scheduler.stop()
        self.bus.post(ev.SparkListenerApplicationEnd(int(time.time() * 1000), 0))
        self.bus.stop()
        if self.event_log is not None:
            self.event_log.stop()
        self.env.shuffle_manager.stop()
        import shutil

        shutil.rmtree(self._local_dir, ignore_errors=True)
        SparkSession.finished.append(self)
        atexit.unregister(self.stop)

    def __enter__(self) -> SparkSession:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def event_log_path(self) -> str | None:
        """Where this application's event log is (a file, or a rolling ``eventlog_v2_`` directory)."""
        return str(self.event_log.log_path) if self.event_log else None

    def next_execution_id(self) -> int:
        return next(self._execution_ids)

    # ---- startup ----
    def _post_startup_events(self, local: bool) -> None:
        now = self.start_time
        host = self.env.host
        if local:  # the driver runs the tasks; on a cluster its executors are added as they register
            self.bus.post(ev.SparkListenerExecutorAdded(now, "driver", host, self.slots))
        max_mem = self.env.memory_manager.max_on_heap_storage_memory
        self.bus.post(ev.SparkListenerBlockManagerAdded(now, "driver", host, BLOCK_MANAGER_PORT, max_mem, max_mem))
        self.bus.post(ev.SparkListenerEnvironmentUpdate(
            spark_properties={**self.conf.getAll(), "spark.app.id": self.app_id, "spark.driver.host": host,
                              "spark.executor.id": "driver", "spark.app.startTime": str(now)},
            system_properties={"python.version": sys.version.split()[0], "os.name": platform.system(),
                               "os.arch": platform.machine(), "user.name": getpass.getuser(),
                               "ember.version": EMBER_VERSION},
            jvm_information={"Java Version": f"Python {sys.version.split()[0]} (Ember {EMBER_VERSION})",
                             "Java Home": sys.prefix, "Scala Version": "none"},
        ))
        self.bus.post(ev.SparkListenerApplicationStart(self.app_name, self.app_id, now, getpass.getuser()))


def _instantiate(class_name: str):
    """A listener named by ``spark.extraListeners`` (``package.module.Class``), made with no arguments."""
    import importlib

    module, _, name = class_name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(f"spark.extraListeners: cannot create listener {class_name!r}: {e}") from e


def _host() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "localhost"


__all__ = ["SparkSession", "DEFAULTS"]
