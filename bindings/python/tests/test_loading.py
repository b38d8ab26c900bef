"""How the package finds and prepares the library (test_raw_matches_header.py
checks the declarations themselves against the header)."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zeek_mgmt_agent
from conftest import REPO
from zeek_mgmt_agent import _raw


def test_the_loaded_library_has_every_declaration_applied() -> None:
    lib = _raw.library()
    assert _raw.library() is lib, "loaded once"
    for name, (restype, argtypes) in _raw.SIGNATURES.items():
        function = getattr(lib, name)
        assert function.restype is restype, name
        assert list(function.argtypes) == argtypes, name


def test_library_version_matches_the_header_version() -> None:
    header = (REPO / "include" / "zeek_mgmt_agent.h").read_text(encoding="utf-8")
    parts = [re.search(rf"^#define ZMA_VERSION_{part} (\d+)$", header, re.M) for part in ("MAJOR", "MINOR", "PATCH")]
    assert all(parts)
    assert zeek_mgmt_agent.library_version() == ".".join(p.group(1) for p in parts if p)


def test_library_path_honours_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_raw.LIBRARY_ENV, "/opt/elsewhere/libzeek_mgmt_agent.so")
    assert _raw.library_path() == Path("/opt/elsewhere/libzeek_mgmt_agent.so")
    monkeypatch.delenv(_raw.LIBRARY_ENV)
    bundled = _raw.library_path()
    assert bundled == Path(_raw.__file__).resolve().parent / "_native" / "lib_native.so"


def test_a_missing_library_raises_library_not_found_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "libzeek_mgmt_agent.so"
    script = (
        "import zeek_mgmt_agent, zeek_mgmt_agent._raw as raw\n"
        "try:\n"
        "    zeek_mgmt_agent.Agent()\n"
        "except raw.LibraryNotFound as error:\n"
        "    assert isinstance(error, ImportError)\n"
        "    print('LibraryNotFound:', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, _raw.LIBRARY_ENV: str(missing)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"LibraryNotFound: {missing} does not exist"), done.stdout


def test_a_library_without_a_declared_function_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # An older library (before 0.2.0 there was no zma_agent_create) is not
    # loaded half-declared: it is refused, naming what it lacks.
    lib = _raw.library()
    signatures = dict(_raw.SIGNATURES)
    signatures["zma_not_in_this_library"] = (ctypes.c_int, [])
    monkeypatch.setattr(_raw, "SIGNATURES", signatures)
    with pytest.raises(_raw.LibraryNotFound) as caught:
        _raw._declare(lib, Path("/some/libzeek_mgmt_agent.so"))
    message = str(caught.value)
    assert "/some/libzeek_mgmt_agent.so has no zma_not_in_this_library" in message
    assert _raw.MINIMUM_VERSION in message
