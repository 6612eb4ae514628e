"""LiveListenerBus: delivers every scheduler and SQL event to the listeners, in order, off the task threads.

Posting never blocks a task: events go on a queue that one dispatcher thread drains. ``stop()``
delivers whatever is queued before it returns. A listener that raises is reported on stderr and
kept, as Spark keeps it; it never fails the job.

The SQL events carry a query's formatted physical plan and its plan tree, which cost the driver
milliseconds per query to build. A listener that ignores them says so with a class attribute
``wants_sql_events = False``; when no listener wants them (no event log, no user listener), queries
skip building and posting them (``wants_sql_events``). Any other listener is assumed to want them.
"""
from __future__ import annotations

import queue
import sys
import threading

_STOP = object()


class LiveListenerBus:
    def __init__(self):
        self._listeners: list = []
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._dispatch, name="spark-listener-group", daemon=True)
        self._started = False
        self._lock = threading.Lock()

    def add_listener(self, listener) -> None:
        """``listener.on_event(event)`` is called for each event."""
        self._listeners.append(listener)

    @property
    def wants_sql_events(self) -> bool:
        """Whether any listener reads the SQL execution events (checked per query, so a listener
        added after the session started is served from the next query on)."""
        return any(getattr(listener, "wants_sql_events", True) for listener in self._listeners)

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()

    def post(self, event) -> None:
        self._queue.put(event)

    def wait_until_empty(self) -> None:
        self._queue.join()

    def stop(self) -> None:
        if self._started:
            self._queue.put(_STOP)
            self._thread.join()

    def _dispatch(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is _STOP:
                    return
                for listener in self._listeners:
                    try:
                        listener.on_event(event)
                    except Exception as e:  # a broken listener must not take the application down
                        print(f"ember: listener {type(listener).__name__} failed on "
                              f"{type(event).__name__}: {e}", file=sys.stderr)
            finally:
                self._queue.task_done()
