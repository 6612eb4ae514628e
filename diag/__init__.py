"""diag: reads any Spark event log (Ember's or a real cluster's) and explains why the job was slow.

    diag.eventlog   files, codecs, rolling directories -> a stream of event dicts + a read report
    diag.model      the events -> read-only Arrow tables (applications, jobs, stages, tasks, SQL ...)
    diag.detectors  one detector per module: model -> Diagnosis records (evidence and a fix)
    diag.report     text, JSON and Markdown renderings; exit status for CI gates

diag never imports the engine: it must understand logs it did not write.
"""
