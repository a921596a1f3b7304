"""A guard against a reference-count bug of some PySide6 builds on Python before 3.12.

PySide6 6.12.0 (shiboken6 6.12.0) returns ``None`` from every void method, and ``True``
from ``Signal.emit``, without taking a reference; on Python 3.12+ these objects are immortal
and nothing happens, but on 3.10 and 3.11 each call takes one reference away. The live
video path makes hundreds of such calls per frame, so after a few minutes the count of
``None`` (or ``True``) reaches zero and the interpreter aborts with "Fatal Python error:
none_dealloc: deallocating None" (found by ``scripts/soak.py``).

:func:`guard_singleton_refcounts` detects the bug and, only where it is present, gives
``None``, ``True`` and ``False`` a reserve of 2**40 references, which is what Python 3.12
does to make them immortal: at a million leaked references a second the reserve lasts
twelve days.
"""

from __future__ import annotations

import ctypes
import sys

RESERVE = 2**40
"""References added to each of None, True and False where the bug is found."""

_PROBE_CALLS = 64


def pyside_leaks_singleton_refs() -> bool:
    """Whether calling a void PySide6 method takes a reference away from ``None``."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
    return sys.getrefcount(None) <= before - _PROBE_CALLS // 2


def guard_singleton_refcounts() -> bool:
    """Add :data:`RESERVE` references to None, True and False if this PySide6 leaks them.

    Returns True when the reserve was added (now or by an earlier call). A no-op on Python
    3.12+ (immortal objects), on builds without the bug, and where the reference count is
    not the object's first field (debug builds), which is checked before writing.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) > RESERVE:
        return True
    if not pyside_leaks_singleton_refs():
        return False
    for singleton in (None, True, False):
        count = ctypes.c_ssize_t.from_address(id(singleton))
        if count.value != sys.getrefcount(singleton) - 1:  # getrefcount holds one more
            return False
        count.value += RESERVE
    return True
