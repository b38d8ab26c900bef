"""The C ABI of ``libzeek_mgmt_agent`` as ctypes declarations.

Every function of ``include/zeek_mgmt_agent.h`` is declared here, once, in
:data:`SIGNATURES`; the test suite parses the header and checks that the two
agree, so they cannot drift apart. Nothing else in the package calls the
library except through :func:`library`.

The library is found, in this order, at ``$ZEEK_MGMT_AGENT_LIB`` (a path),
or bundled in this package (``_native/lib_native.so``: the crate's cdylib,
which the build backend, maturin, builds and puts there; see pyproject.toml).
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# ---- status codes, log levels, versions (the header's #defines) -----------

ZMA_OK = 0
ZMA_ERR_NULL = -1
ZMA_ERR_UTF8 = -2
ZMA_ERR_JSON = -3
ZMA_ERR_EVENT = -4
ZMA_ERR_STATE = -5
ZMA_ERR_OPTIONS = -6
ZMA_ERR_IO = -7
ZMA_ERR_PANIC = -8
ZMA_ERR_LIMIT = -9

ZMA_ABI_VERSION = 1

ZMA_LOG_DEBUG = 10
ZMA_LOG_INFO = 20
ZMA_LOG_WARNING = 30
ZMA_LOG_ERROR = 40

#: Every ``#define ZMA_*`` integer of the header this package relies on.
CONSTANTS: Dict[str, int] = {
    name: value for name, value in globals().items() if name.startswith("ZMA_") and isinstance(value, int)
}

# ---- types ------------------------------------------------------------------

#: ``zma_agent *``: an opaque pointer, kept as an integer.
AgentPointer = ctypes.c_void_p

#: ``typedef void (*zma_event_fn)(void *user_data, const char *topic, const char *event_json);``
EVENT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)

#: ``typedef void (*zma_log_fn)(void *user_data, int level, const char *message);``
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

#: Every function: name -> (restype, argtypes). Strings the library returns
#: through ``char **`` are ``c_void_p`` out-parameters so that they can be
#: handed back to ``zma_string_free``; ``zma_last_error`` and ``zma_version``
#: return borrowed strings (``c_char_p`` copies them).
SIGNATURES: Dict[str, Tuple[Any, List[Any]]] = {
    "zma_agent_create": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(AgentPointer)]),
    "zma_agent_new": (AgentPointer, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "zma_agent_free": (None, [AgentPointer]),
    "zma_agent_set_response_callback": (ctypes.c_int, [AgentPointer, EVENT_FN, ctypes.c_void_p]),
    "zma_agent_set_notification_callback": (ctypes.c_int, [AgentPointer, EVENT_FN, ctypes.c_void_p]),
    "zma_agent_set_publish_callback": (ctypes.c_int, [AgentPointer, EVENT_FN, ctypes.c_void_p]),
    "zma_agent_set_log_callback": (ctypes.c_int, [AgentPointer, LOG_FN, ctypes.c_void_p]),
    "zma_agent_handle_request": (ctypes.c_int, [AgentPointer, ctypes.c_char_p]),
    "zma_agent_poll": (ctypes.c_int, [AgentPointer, ctypes.c_uint64]),
    "zma_agent_next_timeout_ms": (ctypes.c_int64, [AgentPointer]),
    "zma_agent_fd": (ctypes.c_int, [AgentPointer]),
    "zma_agent_state_json": (ctypes.c_int, [AgentPointer, ctypes.POINTER(ctypes.c_void_p)]),
    "zma_last_error": (ctypes.c_char_p, []),
    "zma_string_free": (None, [ctypes.c_void_p]),
    "zma_version": (ctypes.c_char_p, []),
    "zma_abi_version": (ctypes.c_uint32, []),
}

# ---- loading -----------------------------------------------------------------

LIBRARY_ENV = "ZEEK_MGMT_AGENT_LIB"
_BUNDLED_DIR = Path(__file__).resolve().parent / "_native"
#: maturin names the bundled cdylib after the module it would be (``_native``).
_BUNDLED_NAME = "lib_native.so"

#: The oldest library with every function of :data:`SIGNATURES`
#: (``zma_agent_create`` came with 0.2.0).
MINIMUM_VERSION = "0.2.0"

_lock = threading.Lock()
_library: Optional[ctypes.CDLL] = None


class LibraryNotFound(ImportError):
    """The shared library could not be found or is not a usable version."""


def library_path() -> Path:
    """Where the library is loaded from (see the module documentation)."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override)
    return _BUNDLED_DIR / _BUNDLED_NAME


def _declare(lib: ctypes.CDLL, path: Path) -> None:
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            function = getattr(lib, name)
        except AttributeError as error:
            raise LibraryNotFound(
                f"{path} has no {name}: this package needs libzeek_mgmt_agent {MINIMUM_VERSION} or later"
            ) from error
        function.restype = restype
        function.argtypes = argtypes


def library() -> ctypes.CDLL:
    """The loaded library, with every function declared (loaded once)."""
    global _library
    with _lock:
        if _library is not None:
            return _library
        path = library_path()
        if not path.exists():
            raise LibraryNotFound(
                f"{path} does not exist: install the package with the library bundled "
                f"(`pip install ./bindings/python` in a zeek-mgmt-agent checkout, with Rust's cargo), "
                f"or set {LIBRARY_ENV} to the path of a libzeek_mgmt_agent.so "
                f"(`cargo build --release --lib` in the checkout writes target/release/libzeek_mgmt_agent.so)"
            )
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as error:
            raise LibraryNotFound(f"cannot load {path}: {error}") from error
        _declare(lib, path)
        abi = lib.zma_abi_version()
        if abi != ZMA_ABI_VERSION:
            raise LibraryNotFound(
                f"{path} has ABI version {abi}; this package speaks ABI version {ZMA_ABI_VERSION}"
            )
        _library = lib
        return lib


def last_error() -> str:
    """The library's message for the last failure on this thread."""
    message = library().zma_last_error()
    return message.decode("utf-8", "replace") if message else "unknown error"


def take_string(pointer: ctypes.c_void_p) -> str:
    """Copies a string the library handed over, then frees it."""
    lib = library()
    if not pointer.value:
        return ""
    try:
        return ctypes.string_at(pointer.value).decode("utf-8")
    finally:
        lib.zma_string_free(pointer)
