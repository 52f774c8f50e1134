"""Keep freed arrays in the process: glibc's allocator, tuned once for NumPy's large temporaries.

An evaluation allocates many (pairs × filters) arrays of a few MB and frees them before the
next call. glibc serves blocks that large with ``mmap`` and gives them back to the kernel
when they are freed, and trims the heap's free top, so every call page-faults freshly
zeroed memory again: measured on the main job, the kernel's time (``sys``) was
40–90 % of the user time, and one evaluation of 100 atoms took 1.4x as long as with the
memory kept (a training step: 1.23x). :func:`keep_freed_memory`, which every evaluation
and :func:`refgc.train` call, raises both thresholds once per process (with
``mallopt``, as the ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` variables would)
so that freed blocks are reused. The price: up to ``TRIM`` bytes of freed memory stay with
the process. Elsewhere than glibc (macOS, musl) it does nothing.
"""

import ctypes
import sys

__all__ = ["keep_freed_memory"]

MMAP = 32 * 2**20  # blocks below this come from the heap (glibc's largest allowed value on 64-bit)
TRIM = 512 * 2**20  # free memory at the heap's top kept up to this
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_tuned = []


def keep_freed_memory():
    """Tune glibc's malloc once for this process; True if it was (now or before)."""
    if not _tuned:
        _tuned.append(_tune())
    return _tuned[0]


def _tune():
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM))
