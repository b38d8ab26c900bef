"""Builds the Rust library with cargo and bundles it into the package.

``pip install ./bindings/python`` runs this: ``cargo build --release --lib``
on the crate two directories up (or ``$ZEEK_MGMT_AGENT_CRATE_DIR``), then
copies ``libzeek_mgmt_agent.so`` into ``zeek_mgmt_agent/_lib/``. The wheel is
tagged for the platform (it holds a native library) but for any Python 3:
the library is loaded with ctypes, not as an extension module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

LIBRARY = "libzeek_mgmt_agent.so"


def crate_dir() -> Path:
    configured = os.environ.get("ZEEK_MGMT_AGENT_CRATE_DIR")
    crate = Path(configured) if configured else Path(__file__).resolve().parents[2]
    manifest = crate / "Cargo.toml"
    if not manifest.is_file() or 'name = "zeek-mgmt-agent"' not in manifest.read_text(encoding="utf-8"):
        raise SystemExit(
            f"{crate} is not the zeek-mgmt-agent crate; install from a checkout, "
            "or set ZEEK_MGMT_AGENT_CRATE_DIR"
        )
    return crate


def cargo() -> str:
    found = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    if not Path(found).exists():
        raise SystemExit("building zeek-mgmt-agent needs Rust's cargo: see https://rustup.rs")
    return found


def build_library() -> Path:
    crate = crate_dir()
    target = Path(os.environ.get("CARGO_TARGET_DIR", crate / "target"))
    subprocess.run(
        [cargo(), "build", "--release", "--lib", "--manifest-path", str(crate / "Cargo.toml")],
        check=True,
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
    )
    return target / "release" / LIBRARY


class BuildWithLibrary(build_py):
    """build_py, plus the Rust library in zeek_mgmt_agent/_lib/."""

    def run(self) -> None:
        super().run()
        destination = Path(self.build_lib) / "zeek_mgmt_agent" / "_lib"
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_library(), destination / LIBRARY)


class PlatformWheel(bdist_wheel):
    """A wheel for this platform and any Python 3 (ctypes, no extension)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
