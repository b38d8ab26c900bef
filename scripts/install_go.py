#!/usr/bin/env python3
"""Installs a Go toolchain from the Go module proxy, for machines without Go.

The proxy serves every Go release as the module golang.org/toolchain
(the zip the go command itself fetches for GOTOOLCHAIN). Module zips keep
no file modes, so the programs under bin/ and pkg/tool/ are made
executable here, as the go command does.

    scripts/install_go.py 1.27.3 ~/.cache/zeek-mgmt-agent/go1.27.3
"""

import io
import os
import shutil
import stat
import sys
import tempfile
import urllib.request
import zipfile

PROXY = os.environ.get("GOPROXY_URL", "https://proxy.golang.org")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    version, dest = sys.argv[1], os.path.abspath(sys.argv[2])
    url = f"{PROXY}/golang.org/toolchain/@v/v0.0.1-go{version}.linux-amd64.zip"
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    prefix = f"golang.org/toolchain@v0.0.1-go{version}.linux-amd64/"
    staging = tempfile.mkdtemp(prefix="go-install-", dir=os.path.dirname(dest) or ".")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if not name.startswith(prefix) or name.endswith("/"):
                    continue
                relative = name[len(prefix):]
                if relative.startswith("/") or ".." in relative.split("/"):
                    raise SystemExit(f"refusing the archive entry {name!r}")
                target = os.path.join(staging, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.open(name) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                if relative.startswith(("bin/", "pkg/tool/")):
                    os.chmod(target, os.stat(target).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.rename(staging, dest)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    print(f"installed Go {version} in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
