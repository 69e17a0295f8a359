"""Run bookkeeping: the run directory is the source of truth, MLflow a mirror of it.

record (the run directory's files) <- store (the tracking store) <- mirror (:class:`Run`)
<- runs (:func:`open_run`) <- sync (:func:`sync_run_dir`). Import from the module that defines a
name; this package re-exports nothing.
"""
