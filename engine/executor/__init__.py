"""Executors: where tasks run (Spark's ``org.apache.spark.executor``).

``task_runner.run_task`` is the one way a task runs, whichever backend launched it: on a thread of
the driver (``local[N]``) or in an executor process of ``local-cluster[E,C,M]``
(``python -m engine.executor``, see ``executor_process``). ``serializer`` turns a stage's plan into
the bytes an executor process receives.
"""
