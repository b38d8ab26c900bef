"""The ctypes declarations (`_raw.py`) are checked against the C header.

`include/zeek_mgmt_agent.h` is generated from the Rust source by cbindgen;
this test parses its prototypes, typedefs and #defines and compares them
with the package's, so a change to the C ABI that the package does not
follow fails here.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

from zeek_mgmt_agent import _raw

HEADER = Path(__file__).resolve().parents[3] / "include" / "zeek_mgmt_agent.h"

#: C types of the header -> what the package declares for them. `char **`
#: out-parameters are `void **` on purpose: the string they return must be
#: handed back to zma_string_free, which needs the pointer, not a copy.
C_TYPES: Dict[str, Any] = {
    "void": None,
    "int": ctypes.c_int,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "int64_t": ctypes.c_int64,
    "const char *": ctypes.c_char_p,
    "char *": ctypes.c_void_p,
    "char **": ctypes.POINTER(ctypes.c_void_p),
    "void *": ctypes.c_void_p,
    "zma_agent *": ctypes.c_void_p,
    "const zma_agent *": ctypes.c_void_p,
    "zma_agent **": ctypes.POINTER(ctypes.c_void_p),
    "zma_event_fn": _raw.EVENT_FN,
    "zma_log_fn": _raw.LOG_FN,
}

PROTOTYPE = re.compile(r"^(?P<ret>[\w\s\*]+?)\s*\b(?P<name>zma_\w+)\((?P<params>[^)]*)\);", re.MULTILINE)
TYPEDEF_FN = re.compile(r"typedef (?P<ret>\w+) \(\*(?P<name>zma_\w+)\)\((?P<params>[^)]*)\);")
DEFINE = re.compile(r"^#define (ZMA_\w+) (-?\d+)$", re.MULTILINE)


def c_type(declaration: str) -> Any:
    """The ctypes type for a parameter or return type (the name dropped)."""
    words = declaration.replace("*", " * ").split()
    if len(words) > 1 and words[-1] != "*" and words[-1] not in C_TYPES:
        words = words[:-1]  # the parameter's name
    stars = words.count("*")
    spelled = " ".join(w for w in words if w != "*") + (" " + "*" * stars if stars else "")
    assert spelled in C_TYPES, f"no ctypes mapping for the C type {spelled!r} (in {declaration!r})"
    return C_TYPES[spelled]


def parameters(text: str) -> List[Any]:
    text = text.strip()
    if text in ("", "void"):
        return []
    return [c_type(part) for part in text.split(",")]


def header_text() -> str:
    assert HEADER.is_file(), f"{HEADER} is missing"
    return HEADER.read_text(encoding="utf-8")


def header_functions() -> Dict[str, Tuple[Any, List[Any]]]:
    found = {}
    for match in PROTOTYPE.finditer(header_text()):
        if match.group("ret").strip().startswith("typedef"):
            continue
        found[match.group("name")] = (c_type(match.group("ret")), parameters(match.group("params")))
    return found


def same_type(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if a is b:
        return True
    # POINTER(x) creates one class per x, cached: compare what they point to.
    return hasattr(a, "_type_") and hasattr(b, "_type_") and a.__name__ == b.__name__ and a._type_ == b._type_


def test_every_header_function_is_declared_and_nothing_else() -> None:
    assert sorted(header_functions()) == sorted(_raw.SIGNATURES)


def test_every_declaration_matches_its_prototype() -> None:
    for name, (restype, argtypes) in header_functions().items():
        declared_restype, declared_argtypes = _raw.SIGNATURES[name]
        assert same_type(declared_restype, restype), f"{name} returns {restype}, declared {declared_restype}"
        assert len(declared_argtypes) == len(argtypes), f"{name} takes {len(argtypes)} arguments"
        for index, (declared, expected) in enumerate(zip(declared_argtypes, argtypes)):
            assert same_type(declared, expected), f"{name} argument {index}: header {expected}, declared {declared}"


def test_callback_types_match_their_typedefs() -> None:
    typedefs = {m.group("name"): m for m in TYPEDEF_FN.finditer(header_text())}
    assert sorted(typedefs) == ["zma_event_fn", "zma_log_fn"]
    for name, function_type in (("zma_event_fn", _raw.EVENT_FN), ("zma_log_fn", _raw.LOG_FN)):
        match = typedefs[name]
        assert same_type(function_type._restype_, c_type(match.group("ret"))), name
        expected = parameters(match.group("params"))
        assert len(function_type._argtypes_) == len(expected), name
        for declared, wanted in zip(function_type._argtypes_, expected):
            assert same_type(declared, wanted), f"{name}: header {wanted}, declared {declared}"


def test_constants_match_the_header_defines() -> None:
    defines = {name: int(value) for name, value in DEFINE.findall(header_text())}
    versions = {k for k in defines if k.startswith("ZMA_VERSION_")}
    assert {k: v for k, v in defines.items() if k not in versions} == _raw.CONSTANTS


def test_the_loaded_library_has_the_abi_version_of_the_header() -> None:
    assert _raw.library().zma_abi_version() == _raw.ZMA_ABI_VERSION
