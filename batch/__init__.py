"""``c4u batch``: catalogs of creative groups answered by the torch-free runtime, in this process, in N processes,
or on a Ray cluster (one Selector per worker); exact (each answer is the single-process ``Selector``'s), resumable,
written once per id."""
