"""Memory a server process gives back: large blocks are mapped and unmapped, never kept by the allocator.

glibc raises its mmap threshold each time a large mapped block is freed (up to 32 MiB), after which large
blocks (decoded creatives) come from the per-thread heaps and stay there when freed. The server fixes the
threshold at 4 MiB (``mallopt(M_MMAP_THRESHOLD)``, which also stops that adjustment), so every block of
4 MiB or more is mapped on its own and returned to the system when freed (docs/serving.md has the figures).
Linux with glibc only; elsewhere nothing changes and ``return_large_blocks`` says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD = 4 * 1024 * 1024


def return_large_blocks(threshold: int = THRESHOLD) -> str:
    """Allocations of ``threshold`` bytes and more are mapped on their own and unmapped when freed; what was done."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        ok = bool(libc is not None and libc.mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        ok = False
    return f"mmap threshold {threshold // 2**20} MiB" if ok else "allocator unchanged (not glibc)"
