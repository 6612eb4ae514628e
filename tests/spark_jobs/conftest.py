from tests.spark_jobs.fixtures import spark_logs  # noqa: F401
