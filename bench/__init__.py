"""Benchmarks: what `c4u bench` and the scripts in ``benchmarks/`` measure, one module a job.

The scripts are thin command lines over these modules; tests call the modules directly and run every script
once on a tiny export. Nothing here is imported by the runtime, and torch loads only inside the functions that
measure PyTorch models.
"""
