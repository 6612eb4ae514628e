"""ContextCleaner: a shuffle's files go when nothing can read them any more (Spark's ``ContextCleaner``).

A shuffle's map outputs (data, index and checksum files under ``spark.local.dir``) are kept so that
a later job over the same plan skips the map stage. Once the plan's ``Exchange`` is garbage, no job
can ask for them: the cleaner then forgets the shuffle's map statuses and has the executors delete
its files. Without it a session keeps every shuffle it ever wrote on disk until it stops (a full
sort of SF 1 lineitem leaves 126 MB each time it runs).

As in Spark, the reference is weak and the clean-up asynchronous: the exchange's finalizer only
queues the shuffle id (it may run inside any thread, in the middle of a garbage collection, holding
any lock); the daemon thread "Spark Context Cleaner" does the work. ``spark.cleaner.referenceTracking``
false turns it off.

    cleaner = ContextCleaner(shuffle_manager)
    cleaner.start(backend)                       # backend.remove_shuffle(id) deletes the files
    cleaner.register_shuffle_for_cleanup(exchange, shuffle_id)
    ...
    cleaner.stop()
"""
from __future__ import annotations

import logging
import queue
import threading
import weakref

log = logging.getLogger(__name__)

_STOP = None


class ContextCleaner:
    def __init__(self, shuffle_manager):
        self.shuffle_manager = shuffle_manager
        self._backend = None
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()  # put() is safe from a finalizer
        self._thread = threading.Thread(target=self._keep_cleaning, name="Spark Context Cleaner", daemon=True)

    def start(self, backend) -> None:
        self._backend = backend
        self._thread.start()

    def register_shuffle_for_cleanup(self, exchange, shuffle_id: int) -> None:
        """Clean ``shuffle_id`` up once ``exchange`` (the plan node whose shuffle it is) is garbage."""
        weakref.finalize(exchange, self._queue.put, shuffle_id).atexit = False

    def stop(self) -> None:
        """Stop cleaning (the session's stop removes what is left); waits for the clean-up under way."""
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join()

    def do_cleanup_shuffle(self, shuffle_id: int) -> None:
        """Forget the shuffle's map outputs, then delete its files where map tasks wrote them."""
        self.shuffle_manager.unregister_shuffle(shuffle_id)
        self._backend.remove_shuffle(shuffle_id)

    def _keep_cleaning(self) -> None:
        while (shuffle_id := self._queue.get()) is not _STOP:
            try:
                self.do_cleanup_shuffle(shuffle_id)
            except Exception:  # noqa: BLE001 - as Spark: an error cleaning one shuffle stops nothing else
                log.exception("Error cleaning shuffle %d", shuffle_id)
