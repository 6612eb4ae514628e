"""Adaptive query execution (Spark's ``AdaptiveSparkPlanExec`` and its rules).

A query with exchanges runs stage by stage: every exchange whose inputs are ready becomes a query
stage that runs as a job of its own (a shuffle's map stage, a broadcast's collect); once it has
run, its real output sizes (``MapOutputStatistics``) replace the planner's estimates and the rest
of the plan is planned again:

- ``join_selection``: a shuffled join whose side turned out small becomes a broadcast join;
- ``optimize_skewed_join``: a join partition far bigger than the median is read in slices of map
  outputs, each joined with the whole matching partition of the other side;
- ``coalesce_shuffle_partitions``: neighbouring small reduce partitions are read by one task, up to
  ``spark.sql.adaptive.advisoryPartitionSizeInBytes``;
- ``optimize_shuffle_with_local_read``: the stream side of a new broadcast join reads its map
  outputs where they are, one task per map output, instead of shuffling.

Every new plan is posted as ``SparkListenerSQLAdaptiveExecutionUpdate``.
"""
