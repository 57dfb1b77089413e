"""creative4u-small: a compact, exportable Creative4U ad-creative selector."""

__version__ = "0.1.0"
