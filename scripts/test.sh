#!/usr/bin/env bash
# Every test of the project, from a fresh clone: lints, the Rust test suite
# (unit, behaviour, FFI, doc tests, benchmarks run once), the FFI tests
# under Miri, the C header and library as a C host sees them (fresh header,
# C11/C++17, make install + pkg-config, valgrind, AddressSanitizer), the
# quickstart (a real cluster, and simulated in every dialect and encoding),
# the cross-checks against zeek-client, the Python package (pip install,
# mypy --strict, its pytest suite, its asyncio example and benchmark once),
# the Go package (gofmt, go vet, go test -race, a GC stress build, the
# dynamic build, its example, the benchmark once), the Zeek plugin with real
# Zeek where Zeek is installed, the hardening (hostile
# inputs, faults, stress in release, a 2-minute soak, the suite under
# AddressSanitizer, cargo deny) and 60 s of fuzzing per target.
#
# It installs what it needs when missing: the Rust toolchain (rustup) with
# rustfmt and clippy, a nightly toolchain with Miri, the pinned cbindgen and
# cargo-deny, a Python venv in .venv with zeek-client, pytest and mypy, Go
# (from the Go module proxy, into ~/.cache/zeek-mgmt-agent), and (as root,
# from Debian) gcc, g++, make, pkg-config, valgrind and setcap (libcap2-bin:
# a test gives a node program a file capability).
#
#   scripts/test.sh          the everyday run (about 10 minutes on 2 cores)
#   scripts/test.sh --full   everything: CI runs this
#
# --full adds the long parts: the FFI tests under Miri, the test suite under
# AddressSanitizer, cargo deny, stress in release, the 2-minute soak, the C
# hosts under valgrind and the sanitizers, and 60 s of fuzzing per target;
# and installs what only they need (a dated nightly with Miri, cargo-deny,
# cargo-fuzz, valgrind). Tools built from crates.io go into
# ~/.cache/zeek-mgmt-agent/tools, never over the user's own.
set -euo pipefail

FULL=0
for arg in "$@"; do
    case "$arg" in
        --full) FULL=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: scripts/test.sh [--full]" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ZEEK_CLIENT_VERSION=1.5.0
MYPY_VERSION=2.4.1
ZKG_VERSION=3.2.0         # Zeek's package manager, for the plugin's zkg install test
CBINDGEN_VERSION=0.29.4
CARGO_DENY_VERSION=0.20.2
CARGO_FUZZ_VERSION=0.13.2
# Tools built from crates.io live here (found first on PATH), so that the
# pinned versions never replace the user's own in ~/.cargo/bin.
TOOLS="$HOME/.cache/zeek-mgmt-agent/tools"
export PATH="$TOOLS/bin:$PATH"
export CARGO_FUZZ_VERSION
# A dated nightly for Miri, AddressSanitizer and fuzzing, installed beside
# (not over) whatever nightly the machine has: a newer Miri may refuse what
# an older one ran, and the other way round.
export ZMA_NIGHTLY=${ZMA_NIGHTLY:-nightly-2026-10-01}

step() { printf '\n==> %s\n' "$*"; }

# ---- tools ------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    step "installing the Rust toolchain (rustup, stable)"
    tmp=$(mktemp -d)
    curl --proto '=https' --tlsv1.2 -sSf -o "$tmp/rustup-init" \
        https://static.rust-lang.org/rustup/dist/x86_64-unknown-linux-gnu/rustup-init
    chmod +x "$tmp/rustup-init"
    "$tmp/rustup-init" -y --profile minimal --default-toolchain stable -c rustfmt -c clippy
    rm -rf "$tmp"
    export PATH="$HOME/.cargo/bin:$PATH"
fi
for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done
if [ "$FULL" = 1 ] && ! cargo "+$ZMA_NIGHTLY" miri --version >/dev/null 2>&1; then
    step "installing $ZMA_NIGHTLY with Miri (beside any other nightly)"
    rustup toolchain install "$ZMA_NIGHTLY" --profile minimal -c miri -c rust-src
fi
if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
    step "installing cbindgen $CBINDGEN_VERSION into $TOOLS"
    cargo install --quiet --locked --force --root "$TOOLS" --version "$CBINDGEN_VERSION" cbindgen
fi
if [ "$FULL" = 1 ] && [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    step "installing cargo-deny $CARGO_DENY_VERSION into $TOOLS"
    cargo install --quiet --locked --force --root "$TOOLS" --version "$CARGO_DENY_VERSION" cargo-deny
fi
if [ "$FULL" = 1 ] && [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    step "installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS"
    cargo install --quiet --locked --force --root "$TOOLS" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
missing=()
needed=(gcc g++ make pkg-config setcap)
[ "$FULL" = 0 ] || needed+=(valgrind)
for tool in "${needed[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]} from Debian"
    apt-get update -qq && apt-get install -y -qq gcc g++ make pkg-config valgrind libcap2-bin
fi

# Go: the machine's, if it is at least GO_MIN; else the pinned release from
# the Go module proxy (the same archive the go command fetches for
# GOTOOLCHAIN). GOTOOLCHAIN=local keeps every go command on that one.
GO_MIN=1.21
GO_INSTALL_VERSION=1.27.3
export GOTOOLCHAIN=local
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
go_usable() {
    command -v go >/dev/null 2>&1 || return 1
    local have
    have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
    [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -n 1)" = "$GO_MIN" ]
}
if ! go_usable; then
    GO_HOME="$HOME/.cache/zeek-mgmt-agent/go$GO_INSTALL_VERSION"
    if [ ! -x "$GO_HOME/bin/go" ]; then
        step "installing Go $GO_INSTALL_VERSION from the Go module proxy"
        mkdir -p "$(dirname "$GO_HOME")"
        python3 scripts/install_go.py "$GO_INSTALL_VERSION" "$GO_HOME"
    fi
    export PATH="$GO_HOME/bin:$PATH"
fi

PYTHON=${PYTHON:-python3}
VENV="$ROOT/.venv"
if ! "$VENV/bin/python" -c "import zeekclient, pytest, mypy, zeekpkg" >/dev/null 2>&1; then
    step "creating $VENV with zeek-client $ZEEK_CLIENT_VERSION, pytest, mypy $MYPY_VERSION and zkg $ZKG_VERSION"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "zeek-client==$ZEEK_CLIENT_VERSION" pytest "mypy==$MYPY_VERSION" "zkg==$ZKG_VERSION"
fi
installed=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('zeek-client'))")
if [ "$installed" != "$ZEEK_CLIENT_VERSION" ]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "zeek-client==$ZEEK_CLIENT_VERSION"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# ---- lints ------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

# ---- Rust tests -------------------------------------------------------------
step "cargo test (unit, behaviour, FFI, hostile inputs, faults, examples and benchmarks once)"
# The stress tests run at full size in release below; here a smaller round.
ZMA_STRESS_REQUESTS=10000 cargo test --all-targets --quiet

step "cargo test --doc"
cargo test --doc --quiet

if [ "$FULL" = 1 ]; then
step "the FFI tests under Miri (those that start no process)"
# Miri's warnings (with their stack traces) go to a file, shown on failure.
MIRIFLAGS=-Zmiri-disable-isolation cargo "+$ZMA_NIGHTLY" miri test --quiet --test ffi \
    > "$out/miri.log" 2>&1 || { cat "$out/miri.log"; exit 1; }
grep -E "^test result" "$out/miri.log"
echo "$(grep -c '^warning' "$out/miri.log" || true) Miri warnings (in the log, not errors)"

step "the Rust test suite under AddressSanitizer (nightly)"
# process_flood is left out and the stress tests skip their RSS bound
# (ZMA_UNDER_ASAN): RSS is meaningless with ASan's quarantine and shadow
# memory; the stress tests run a smaller round here. The warning "ASan is ignoring requested
# __asan_handle_no_return" is expected: a node's child runs on its own
# stack until execve, as posix_spawn's does. That child shares the spawner
# thread's memory and thread-local storage, so with ASan's fake stacks
# (detect_stack_use_after_return, on by default) its instrumented frames
# come from the spawner thread's fake stack and never return (execve):
# the spawner thread's next frames were then reported as stack-use-after-
# scope or unknown-crash in about one run in seven (false positives, gone
# with fake stacks off; stack-use-after-scope is still checked).
ZMA_UNDER_ASAN=1 ZMA_STRESS_REQUESTS=5000 RUSTFLAGS="-Zsanitizer=address" \
    ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0 \
    cargo "+$ZMA_NIGHTLY" test --quiet --target x86_64-unknown-linux-gnu --target-dir target/asan \
    --lib --bins --tests -- --skip a_flood_of_output > "$out/asan.log" 2>&1 \
    || { cat "$out/asan.log"; exit 1; }
grep -c "^test result: ok" "$out/asan.log" | xargs printf '%s test binaries passed under ASan\n'

step "cargo deny check bans licenses sources"
# (advisories need the RustSec database from GitHub, not reachable here)
cargo deny check bans licenses sources

# ---- stress and soak ----------------------------------------------------------
step "stress: 8 threads x 100,000 mixed requests on one agent, each run mode (release)"
cargo test --release --quiet --test stress

step "soak: 2 minutes of mixed load with nodes coming and going; RSS, fds, threads flat"
cargo build --release --quiet --bin zma-standin-node
cargo build --release --quiet -p zeek-mgmt-agent-test-support --bin soak
./target/release/soak --minutes 2 > "$out/soak.log" 2>&1 || { cat "$out/soak.log"; exit 1; }
grep -E "^minute|^soak: (baseline|OK)" "$out/soak.log" | tail -n 4
else
    step "skipped without --full: Miri, the suite under ASan, cargo deny, stress (release), the soak"
fi

# ---- the C library as C hosts see it ------------------------------------------
step "include/zeek_mgmt_agent.h is what cbindgen $CBINDGEN_VERSION generates"
cbindgen --quiet --config cbindgen.toml --output "$out/header.h"
diff -u include/zeek_mgmt_agent.h "$out/header.h"
strays=$(grep -E '^(#define|typedef)|^[a-z].*\(' include/zeek_mgmt_agent.h \
    | grep -vE 'ZMA_|zma_|ZEEK_MGMT_AGENT_H' || true)
if [ -n "$strays" ]; then
    echo "the header declares names outside zma_/ZMA_:"; echo "$strays"; exit 1
fi

step "the header compiles as C11 and C++17 with -Werror, included twice"
printf '#include "zeek_mgmt_agent.h"\n#include "zeek_mgmt_agent.h"\nint main(void) { return zma_abi_version() == ZMA_ABI_VERSION ? 0 : 1; }\n' > "$out/twice.c"
gcc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -c "$out/twice.c" -o "$out/twice.o"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -x c++ -c "$out/twice.c" -o "$out/twice-cpp.o"

step "the C and C++ hosts, against the .so and the .a"
make --no-print-directory -s examples >/dev/null
for host in host-c host-c-static host-cpp host-cpp-static; do
    ./target/examples/$host > "$out/$host.out" || { cat "$out/$host.out"; exit 1; }
    echo "$host: ok"
done

if [ "$FULL" = 1 ]; then
step "the hosts under valgrind memcheck: no leaks, no errors"
for host in host-c host-c-static host-cpp host-cpp-static; do
    valgrind --quiet --error-exitcode=3 --leak-check=full --show-leak-kinds=all \
        --errors-for-leak-kinds=all ./target/examples/$host > /dev/null
    echo "$host: clean"
done

step "the hosts under AddressSanitizer and UndefinedBehaviorSanitizer"
make --no-print-directory -s examples-asan >/dev/null
for host in host-c-asan host-cpp-asan; do
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ./target/examples/$host > /dev/null
    echo "$host: clean"
done
else
    step "skipped without --full: the C hosts under valgrind and the sanitizers"
fi

step "make install into a temporary prefix; build a host with pkg-config"
# README.md's own commands: the code blocks after its "<!-- test.sh: NAME -->"
# markers, run as written, in its order, in one shell, with HOME a fresh
# directory (so $HOME/.local is an empty prefix, as it would be), host.c a
# copy of examples/c/host.c, and no LD_LIBRARY_PATH or PKG_CONFIG_PATH from
# here: the shared and the static host must start on their own.
readme_block() {
    awk -v marker="<!-- test.sh: $1 -->" '
        $0 == marker { found = 1; next }
        found && /^```/ { if (inside) exit; inside = 1; next }
        found && inside { print }' README.md
}
home="$out/home"
mkdir -p "$home" "$out/hostdir"
cp examples/c/host.c "$out/hostdir/host.c"
readme_script=""
for block in install shared static; do
    text=$(readme_block "$block")
    [ -n "$text" ] || { echo "README.md has no block after <!-- test.sh: $block -->"; exit 1; }
    [ "$block" = install ] || readme_script+=$'cd "$HOSTDIR"\n'
    readme_script+="$text"$'\n'
done
# cargo and rustup keep their homes (make install runs cargo build).
env -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH HOME="$home" HOSTDIR="$out/hostdir" \
    CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    bash -euo pipefail -c "$readme_script" > "$out/readme-c.log" 2>&1 \
    || { echo "README.md's commands failed:"; printf '%s' "$readme_script"; cat "$out/readme-c.log"; exit 1; }
lib="$home/.local/lib"
soname=$(readelf -d "$lib/libzeek_mgmt_agent.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
abi=$(sed -n 's/^pub const ZMA_ABI_VERSION: u32 = \([0-9]*\);/\1/p' src/ffi.rs)
[ "$soname" = "libzeek_mgmt_agent.so.$abi" ] || { echo "SONAME $soname, ABI $abi"; exit 1; }
readelf -d "$out/hostdir/host" | grep -q "NEEDED.*\[$soname\]" \
    || { echo "the shared host does not load $soname"; exit 1; }
if readelf -d "$out/hostdir/host-static" | grep -q "NEEDED.*libzeek_mgmt_agent"; then
    echo "the static host loads libzeek_mgmt_agent"; exit 1
fi
# Installed stripped: no debug sections in the .so or in any member of the .a.
for file in "$lib/libzeek_mgmt_agent.so" "$lib/libzeek_mgmt_agent.a"; do
    if readelf -S -W "$file" | grep -q '\.debug_'; then
        echo "$file has debug sections:"; readelf -S -W "$file" | grep '\.debug_' | sort -u | head; exit 1
    fi
done
so_size=$(stat -L -c %s "$lib/libzeek_mgmt_agent.so")
a_size=$(stat -c %s "$lib/libzeek_mgmt_agent.a")
# DEBUG_FILE=yes: the .so's debug information beside it, named by its debuglink.
make --no-print-directory -s install NO_BUILD=1 DEBUG_FILE=yes PREFIX="$out/prefix-debug" >/dev/null
so_file=$(readlink -f "$out/prefix-debug/lib/libzeek_mgmt_agent.so")
readelf -S -W "$so_file.debug" | grep -q '\.debug_info' || { echo "$so_file.debug has no .debug_info"; exit 1; }
[ "$(readelf --string-dump=.gnu_debuglink "$so_file" | sed -n 's/.*\] *//p' | head -n 1)" = "$(basename "$so_file").debug" ] \
    || { echo "$so_file does not name $(basename "$so_file").debug"; exit 1; }
if readelf -S -W "$so_file" | grep -q '\.debug_'; then echo "$so_file has debug sections"; exit 1; fi
echo "installed: $soname ($((so_size / 1024)) KiB) and the .a ($((a_size / 1024)) KiB), stripped;" \
    "README.md's shared and static hosts ran without LD_LIBRARY_PATH; DEBUG_FILE=yes: debuglink ok"

# ---- the quickstart: a real cluster, and the engine in every dialect ---------
step "quickstart: a real 4-node cluster with the process supervisor"
cargo build --release --quiet --example quickstart --bin zma-standin-node
./target/release/examples/quickstart > "$out/quickstart.out"
sed -n 2p "$out/quickstart.out"   # which node program: Zeek when installed, else the stand-in
tail -n 1 "$out/quickstart.out"
grep -q "is gone; the agent has 0 nodes" "$out/quickstart.out"
# Events print one way in both modes: the full name, arguments in order.
grep -q "controller -> agent: Management::Agent::API::deploy_request(reqid=" "$out/quickstart.out"

step "quickstart --simulated in every dialect and encoding"
for dialect in seed zeek5 zeek6 zeek7; do
    for encoding in broker plain; do
        ./target/release/examples/quickstart --simulated --dialect "$dialect" --encoding "$encoding" \
            --transcript "$out/$dialect-$encoding.jsonl" > "$out/$dialect-$encoding.out"
        echo "quickstart $dialect/$encoding: $(tail -n 1 "$out/$dialect-$encoding.out")"
    done
done
grep -q "controller -> agent: Management::Agent::API::deploy_request(reqid=" "$out/zeek7-plain.out"

# ---- zeek-client cross-checks -----------------------------------------------
step "zeek-client: the committed byte vectors are what zeek-client writes today"
"$VENV/bin/python" scripts/zeek_client_compat.py vectors --out "$out/vectors" > /dev/null
diff -r "$out/vectors" tests/fixtures/zeek-client

step "zeek-client: it reads everything the agent sends to the controller and nodes"
# Supervisor-bound events are left out: their cluster tables use port 0/?
# (Zeek's "does not listen"), which zeek-client, never a Supervisor peer,
# refuses by design.
grep -v '"topic": "zeek/supervisor"' "$out/zeek7-broker.jsonl" > "$out/to-controller.jsonl"
"$VENV/bin/python" scripts/zeek_client_compat.py check --roundtrip "$out/to-controller.jsonl"

step "zeek-client through the C ABI (ctypes): pytest tests/python"
ZMA_LIB="$ROOT/target/release/libzeek_mgmt_agent.so" "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/python

# ---- the Python package ----------------------------------------------------
step "Python package: pip install ./bindings/python ./bindings/python/standin (maturin builds and bundles the library; the stand-in node)"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    ./bindings/python ./bindings/python/standin

step "Python package: mypy --strict"
"$VENV/bin/mypy" --strict --config-file bindings/python/pyproject.toml bindings/python/src/zeek_mgmt_agent \
    bindings/python/examples/deploy.py

step "Python package: pytest bindings/python/tests (the installed package)"
ZMA_STANDIN="$ROOT/target/release/zma-standin-node" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider bindings/python/tests

step "Python package: the README's examples as documented (deploy.py, the JSON-lines command) with the stand-in node"
# As in an activated venv: its bin directory first on PATH. Run in a scratch
# directory: the JSON-lines example uses the default ./zeek-agent-state.
mkdir "$out/py-example"
(cd "$out/py-example" && PATH="$VENV/bin:$PATH" python "$ROOT/bindings/python/examples/deploy.py" --zeek zma-standin-node) \
    > "$out/py-example/deploy.out"
grep -c ": ok$" "$out/py-example/deploy.out" | grep -qx 4 || { cat "$out/py-example/deploy.out"; exit 1; }
# Without the node program, the error says how to run the stand-in instead.
if (cd "$out/py-example" && PATH="$VENV/bin:$PATH" python "$ROOT/bindings/python/examples/deploy.py" \
        --zeek no-such-zeek-zma) > "$out/py-example/missing.out" 2>&1; then
    echo "deploy.py succeeded without its node program"; exit 1
fi
grep -q "program 'no-such-zeek-zma' not found on PATH (without Zeek, the installed stand-in node" "$out/py-example/missing.out"
# The JSON-lines example, taken from the README as it is written there.
sed -n '/^echo .{"event": "deploy_request"/,/| zeek-mgmt-agent /p' bindings/python/README.md > "$out/py-example/jsonl.sh"
[ "$(wc -l < "$out/py-example/jsonl.sh")" = 2 ]
(cd "$out/py-example" && PATH="$VENV/bin:$PATH" bash -e "$out/py-example/jsonl.sh") 2> /dev/null \
    | grep -F '"event": "Management::Agent::API::deploy_response", "args": {"reqid": "d1"' | grep -qF '"success": true'

step "Python package: the asyncio example, and the benchmark once"
"$VENV/bin/python" bindings/python/examples/asyncio_host.py "$ROOT/target/release/zma-standin-node" \
    | grep -E "^(deploy|standby)"
"$VENV/bin/python" bindings/python/bench.py --smoke > /dev/null

step "Python package: the wheel (maturin build) carries the library, is tagged manylinux, passes auditwheel show"
# The tools of this step and the next, pinned (pyproject.toml pins the same maturin).
PY_MATURIN_VERSION=1.16.0
PY_AUDITWHEEL_VERSION=6.8.2
"$VENV/bin/pip" install --quiet --disable-pip-version-check "maturin==$PY_MATURIN_VERSION" "auditwheel==$PY_AUDITWHEEL_VERSION"
(cd bindings/python && "$VENV/bin/maturin" build --quiet --release --out "$out/py-wheel")
wheel=$(ls "$out"/py-wheel/zeek_mgmt_agent-*-py3-none-manylinux_*.whl)
"$VENV/bin/python" -m zipfile -l "$wheel" | grep -q "zeek_mgmt_agent/_native/lib_native.so"
"$VENV/bin/auditwheel" show "$wheel" | tee "$out/py-wheel/auditwheel.txt"
tr '\n' ' ' < "$out/py-wheel/auditwheel.txt" | grep -q 'is consistent with the following platform tag: "manylinux_'

step "Python package: the sdist alone, copied away from the checkout, installs into a fresh venv and answers a request"
(cd bindings/python && "$VENV/bin/maturin" sdist --out "$out/py-sdist")
mkdir "$out/py-elsewhere"
cp "$out"/py-sdist/zeek_mgmt_agent-*.tar.gz "$out/py-elsewhere/"
(
    cd "$out/py-elsewhere"
    "$PYTHON" -m venv venv
    started=$(date +%s)
    venv/bin/pip install --quiet --disable-pip-version-check ./zeek_mgmt_agent-*.tar.gz
    echo "installed from the sdist in $(( $(date +%s) - started )) s"
    venv/bin/python -c '
import zeek_mgmt_agent
from zeek_mgmt_agent import Agent, _raw
assert str(_raw.library_path()).startswith(zeek_mgmt_agent.__path__[0]), _raw.library_path()
with Agent(name="instance-1", mode="polled", encoding="plain") as agent:
    answer = agent.request({"event": "agent_welcome_request", "args": {"reqid": "w1"}}, "w1", timeout=10)
    assert answer.args["result"]["success"] is True, answer.args
    print(answer.name, "from", _raw.library_path())
'
)

# ---- the Go package ---------------------------------------------------------
step "Go package ($(go env GOVERSION)): go generate (builds the library), gofmt, go vet"
(cd bindings/go && go generate ./...)
unformatted=$(cd bindings/go && gofmt -l .)
[ -z "$unformatted" ] || { echo "gofmt would change: $unformatted"; exit 1; }
# vet's stdversion check also holds the code to go.mod's minimum Go version.
(cd bindings/go && go vet ./... && go vet -tags zma_gcstress ./... && go vet -tags zma_dynamic ./...)

step "Go package: go test -race (GODEBUG=cgocheck=1)"
(cd bindings/go && ZMA_STANDIN="$ROOT/target/release/zma-standin-node" GODEBUG=cgocheck=1 \
    go test -count=1 -race ./...)

step "Go package: the GC stress build (runtime.GC around every C call), and the dynamic build"
(cd bindings/go && ZMA_STANDIN="$ROOT/target/release/zma-standin-node" go test -count=1 -tags zma_gcstress ./...)
(cd bindings/go && ZMA_STANDIN="$ROOT/target/release/zma-standin-node" go test -count=1 -tags zma_dynamic ./...)

step "Go package: the example deploys a cluster, prints its status and stops on SIGINT"
(cd bindings/go && go build -o "$out/go-example" ./example)
"$out/go-example" -zeek "$ROOT/target/release/zma-standin-node" > "$out/go-example.out" 2>&1 &
example=$!
for _ in $(seq 1 300); do
    grep -q "cluster running" "$out/go-example.out" && break
    kill -0 "$example" 2>/dev/null || break
    sleep 0.1
done
grep -q "cluster running" "$out/go-example.out" || { cat "$out/go-example.out"; exit 1; }
kill -INT "$example"
wait "$example" || { cat "$out/go-example.out"; exit 1; }
grep -E "^(NODE|manager|logger|proxy|worker)" "$out/go-example.out"
grep -q "^stopped" "$out/go-example.out" || { cat "$out/go-example.out"; exit 1; }
for pid in $(awk '$3 == "RUNNING" { print $4 }' "$out/go-example.out"); do
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "^zeek\."; then
        echo "node pid $pid outlived the example"; exit 1
    fi
done

step "Go package: the welcome round-trip benchmark once"
(cd bindings/go && go test -run '^$' -bench WelcomeRoundTrip -benchtime 2000x ./... | grep ^Benchmark)

# ---- the Zeek plugin against real Zeek -----------------------------------------
step "the Zeek plugin (bindings/zeek) with Zeek's controller and zeek-client"
# Where Zeek is installed (zeek-config on PATH, else /opt/zeek/bin), the
# plugin is built and installed into that Zeek, as its README says, and
# tested there; elsewhere this says what to install and moves on.
zeek_config=$(command -v zeek-config || true)
[ -n "$zeek_config" ] || { [ -x /opt/zeek/bin/zeek-config ] && zeek_config=/opt/zeek/bin/zeek-config; } || true
if [ -z "$zeek_config" ]; then
    echo "skipped: Zeek is not installed (install Zeek >= 8.0 with zeek-config on PATH, or into /opt/zeek)"
else
    (cd bindings/zeek && ./configure > "$out/plugin-configure.log" 2>&1 \
        && make > "$out/plugin-build.log" 2>&1 && make install > "$out/plugin-install.log" 2>&1) \
        || { cat "$out"/plugin-*.log; exit 1; }
    "$("$zeek_config" --prefix)/bin/zeek" -N ZeekMgmt::Agent
    PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pytest -q -p no:cacheprovider bindings/zeek/tests
    # The side-by-side benchmark, once, so that it keeps working.
    ZEEK="$("$zeek_config" --prefix)/bin/zeek" "$VENV/bin/python" bindings/zeek/bench/bench.py --smoke > "$out/bench-zeek.log" 2>&1 \
        || { cat "$out/bench-zeek.log"; exit 1; }
    echo "bench.py --smoke: ok (its table: bindings/zeek/bench/README.md has a full run)"
fi

# ---- fuzzing ------------------------------------------------------------------
if [ "$FULL" = 1 ]; then
    step "fuzzing: the Broker and plain decoders, the options parser, the engine; 60 s each"
    scripts/fuzz.sh 60 | sed -n '/==> summary/,$p'
else
    step "skipped without --full: fuzzing (scripts/fuzz.sh)"
fi

step "all tests passed"
