"""File data sources: Spark's ``FileSourceStrategy``, ``FilePartition``, ``ParquetFileFormat``,
``CSVFileFormat`` and ``FileFormatWriter`` roles, one concern per module.

==================  ========================================================================
``listing``         find the data files of a read (files, directories, globs; hidden files)
``partitioning``    Hive ``k=v`` directories: parse, infer types, name them when writing
``schema``          the data schema: the user's, or inferred by format
``splits``          ``maxSplitBytes``, byte ranges, next-fit packing into read tasks
``pruning``         can a row group / file match the pushed filters, judged by statistics
``scan``            what readers are asked for (columns, partition constants) and report
``parquet``         row groups by midpoint, statistics skipping, column pruning; write a file
``csv``             Spark's CSV options, schema inference, reading, writing
``writer``          save modes, one file per task and partition, ``_SUCCESS``
``strategy``        the glue with ``FileRelation`` / ``FileScan``
==================  ========================================================================
"""
from engine.datasources.listing import list_files
from engine.datasources.scan import PartitionColumn, ScanColumn, ScanMetrics
from engine.datasources.schema import infer_schema
from engine.datasources.splits import FilePartition, FileSplit, max_split_bytes, plan_file_partitions
from engine.datasources.parquet import read_parquet_split
from engine.datasources.csv import read_csv_split
from engine.datasources.writer import WriteStats, abort_job, commit_job, prepare_output, write_task_output
from engine.datasources.strategy import plan_scan, read_partition, resolve_relation

__all__ = [
    "FilePartition", "FileSplit", "PartitionColumn", "ScanColumn", "ScanMetrics", "WriteStats",
    "abort_job", "commit_job", "infer_schema", "list_files", "max_split_bytes", "plan_file_partitions",
    "plan_scan", "prepare_output", "read_csv_split", "read_parquet_split", "read_partition",
    "resolve_relation", "write_task_output",
]
