"""What batch jobs share, torch-free: output files written whole and resumed by id (JSONL, Parquet), the driver's
tally of a job, and Ray (a cluster connected or started, a pool of actors fed by Ray Data). ``ray`` and ``pyarrow``
are imported only by the functions that use them (the ``ray`` extra)."""
