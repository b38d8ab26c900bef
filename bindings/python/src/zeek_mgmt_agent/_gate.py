"""The gate in front of one agent's C pointer: a reader-writer lock.

``zma_agent_free`` must not race with any other call on the same agent (the
C ABI's one rule about threads), so every call holds the gate shared
(``with gate as pointer:``) and closing takes it exclusively: it refuses new
calls at once, waits for the calls in flight, then frees. It is Go's
``sync.RWMutex`` in ``bindings/go``, with two differences that Python
callbacks need:

* A thread that is itself inside a call or a callback on this agent never
  waits in :meth:`Gate.close` (it would wait for itself, or for a thread
  that waits for it: the library's thread is joined by the free, a caller
  held up by the library's backpressure waits for the callback's thread to
  deliver). It frees at once if no other thread has a call in flight (the
  library allows a free from its own callbacks), else it leaves the free to
  the last of those calls, which frees as it returns.
* :meth:`Gate.close` can give up waiting after ``timeout`` (the finalizer
  does, at interpreter exit, where daemon threads may be in calls); the
  free is then left to the last call in flight, as above.

The gate references neither the :class:`~zeek_mgmt_agent.Agent` nor its
callbacks, so a ``weakref.finalize`` may hold it.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

from .errors import ClosedError

_OPEN, _CLOSING, _FREEING, _FREED = range(4)


class _PerThread(threading.local):
    """What this thread is doing with one gate's agent."""

    calls = 0  #: calls in flight (nested ones, from callbacks, included)
    callbacks = 0  #: callbacks of this agent running (any thread, the library's too)
    freeing = False  #: inside the free itself


class Gate:
    """Calls hold it shared, :meth:`close` exclusively (see the module)."""

    def __init__(self, pointer: int, free: Callable[[int], None]) -> None:
        self._pointer = pointer
        self._free_pointer = free
        self._cond = threading.Condition(threading.Lock())
        self._state = _OPEN
        self._active = 0  # calls in flight, all threads
        self._waiting = 0  # close() calls waiting for them
        self._local = _PerThread()

    # ---- calls ----------------------------------------------------------------

    def __enter__(self) -> int:
        """Starts a call: the live pointer, or :class:`ClosedError` once
        :meth:`close` was called (even while it still waits)."""
        with self._cond:
            if self._state != _OPEN:
                raise ClosedError("the agent is closed")
            self._active += 1
        self._local.calls += 1
        return self._pointer

    def __exit__(self, *exc_info: object) -> None:
        """Ends a call; the last call out frees an agent whose close() did not wait."""
        self._local.calls -= 1
        with self._cond:
            self._active -= 1
            if self._active or self._state != _CLOSING:
                return
            if self._waiting:
                self._cond.notify_all()  # a waiting close() frees it
                return
            self._state = _FREEING
        self._free()

    def callback_started(self) -> None:
        """A callback of this agent starts on this thread."""
        self._local.callbacks += 1

    def callback_ended(self) -> None:
        self._local.callbacks -= 1

    # ---- closing ----------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """Whether :meth:`close` was called (freed or not yet)."""
        return self._state != _OPEN

    @property
    def freed(self) -> bool:
        """Whether the agent has been freed."""
        return self._state == _FREED

    def refuse(self) -> None:
        """Refuses new calls from now on (the first step of :meth:`close`)."""
        with self._cond:
            if self._state == _OPEN:
                self._state = _CLOSING

    def close(self, timeout: Optional[float] = None) -> bool:
        """Refuses new calls, waits for the calls in flight on other threads
        (at most ``timeout`` seconds; None: as long as they take) and frees
        the agent. Idempotent; concurrent callers all wait for the free.

        From a thread inside a call or callback on this agent it never
        waits: it frees at once if no other thread is in a call, else the
        last call to return frees. Returns whether the agent is freed.
        """
        me = self._local
        busy = me.calls > 0 or me.callbacks > 0 or me.freeing
        with self._cond:
            if self._state == _OPEN:
                self._state = _CLOSING
            if busy:
                if self._state != _CLOSING or self._active != me.calls:
                    return self._state == _FREED
                self._state = _FREEING
            else:
                deadline = None if timeout is None else time.monotonic() + timeout
                self._waiting += 1
                try:
                    while True:
                        if self._state == _FREED:
                            return True
                        if self._state == _CLOSING and self._active == 0:
                            self._state = _FREEING
                            break
                        left = None if deadline is None else deadline - time.monotonic()
                        if left is not None and left <= 0:
                            return False  # the last call in flight frees it
                        self._cond.wait(left)
                finally:
                    self._waiting -= 1
        self._free()
        return True

    def _free(self) -> None:
        """Frees the agent; only the thread that moved the state to _FREEING."""
        self._local.freeing = True
        try:
            self._free_pointer(self._pointer)
        finally:
            self._local.freeing = False
            with self._cond:
                self._state = _FREED
                self._pointer = 0
                self._cond.notify_all()
