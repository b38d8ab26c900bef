#!/usr/bin/env bash
# Fuzzes the agent with cargo-fuzz (libFuzzer, nightly Rust), one target
# after another, each for SECONDS (default 60):
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Targets (fuzz/fuzz_targets/): decode_broker, decode_plain, options,
# engine_ops. Seed corpora are built from tests/fixtures (events, and the
# configurations alone and inside deploy requests) and a few option objects
# into fuzz/corpus/<target> (gitignored; what the fuzzer finds stays there
# for the next run). Prints each target's final libFuzzer stats (executions,
# exec/s, coverage) and exits non-zero if any target crashed; a crash input
# is left in fuzz/artifacts/<target>/ (replay it with
# `cargo +nightly-2026-10-01 fuzz run <target> <file>`, then add it to
# tests/fuzz_regressions/<target>/).
#
# Installs what it needs when missing: a nightly toolchain (rustup) and
# cargo-fuzz $CARGO_FUZZ_VERSION (crates.io, into ~/.cache/zeek-mgmt-agent/tools). One fuzzer process at a time (no -jobs/-workers).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ="$ROOT/fuzz"
DURATION=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(decode_broker decode_plain options engine_ops)
case "$DURATION" in
    '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

step() { printf '\n==> %s\n' "$*"; }

# ---- tools ------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
ZMA_NIGHTLY=${ZMA_NIGHTLY:-nightly-2026-10-01}
if ! rustup run "$ZMA_NIGHTLY" rustc --version >/dev/null 2>&1; then
    step "installing $ZMA_NIGHTLY"
    rustup toolchain install "$ZMA_NIGHTLY" --profile minimal
fi
# cargo-fuzz, pinned, built into a cache of its own (never over the user's).
CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
TOOLS="$HOME/.cache/zeek-mgmt-agent/tools"
export PATH="$TOOLS/bin:$PATH"
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    step "installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS"
    cargo install --quiet --locked --force --root "$TOOLS" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi

# The same flags for the build and every run, so the runs reuse the one
# build in fuzz/target. Release with debug assertions and overflow checks
# (cargo-fuzz's default); no sanitizer: the code under test is safe Rust,
# and without ASan the fuzzers run about twice as many inputs.
BUILD_FLAGS=(--release --debug-assertions --sanitizer none)

# ---- seed corpora -------------------------------------------------------------
step "seed corpora in fuzz/corpus"
FIX="$ROOT/tests/fixtures"
for target in "${TARGETS[@]}"; do
    mkdir -p "$FUZZ/corpus/$target"
done
seed_decode() { # seed_decode TARGET ENCODING
    local dir="$FUZZ/corpus/$1" enc=$2 f base cfg
    [ -d "$dir" ] || return 0
    for f in "$FIX"/events/*."$enc".json; do
        cp "$f" "$dir/seed-$(basename "$f")"
    done
    # Configurations alone (decode_configuration) and inside deploy
    # requests; not the 2000-node one (beyond -max_len).
    for cfg in mini multi empty; do
        f="$FIX/configs/$cfg.$enc.json"
        cp "$f" "$dir/seed-config-$cfg.$enc.json"
        if [ "$enc" = plain ]; then
            { printf '{"event": "deploy_request", "args": {"reqid": "r1", "config": '
              cat "$f"; printf ', "force": true}}'; } >"$dir/seed-deploy-$cfg.plain.json"
        else
            { printf '{"type": "data-message", "topic": "zeek/management/agent/instance-1", '
              printf '"@data-type": "vector", "data": [{"@data-type": "count", "data": 1}, '
              printf '{"@data-type": "count", "data": 1}, {"@data-type": "vector", "data": ['
              printf '{"@data-type": "string", "data": "Management::Agent::API::deploy_request"}, '
              printf '{"@data-type": "vector", "data": [{"@data-type": "string", "data": "r1"}, '
              cat "$f"
              printf ', {"@data-type": "boolean", "data": true}]}]}]}'; } >"$dir/seed-deploy-$cfg.broker.json"
        fi
    done
}
seed_decode decode_broker broker
seed_decode decode_plain plain
if [ -d "$FUZZ/corpus/options" ]; then
    i=0
    while IFS= read -r line; do
        i=$((i + 1))
        printf '%s' "$line" >"$FUZZ/corpus/options/seed-$i.json"
    done <<'EOF'
{}
{"name": "instance-1", "dialect": "zeek7", "encoding": "plain", "mode": "polled"}
{"supervisor": {"kind": "host", "address": "127.0.0.1", "port": 9999}, "node_ready": "hello"}
{"supervisor": {"kind": "process", "zeek": "/usr/local/zeek/bin/zeek", "args_prefix": ["-C"], "stop_grace_ms": 100, "restart_delay_ms": 10, "restart_delay_max_ms": 1000, "max_start_failures": 3, "output_max_lines": 10}, "node_ready": "spawn", "ready_after_ms": 50}
{"listen_address": "::1", "listen_port": 2151, "controller_address": "0.0.0.0", "controller_port": 2150, "topic_prefix": "zeek/management/agent", "state_dir": "/var/lib/zeek"}
{"request_timeout_ms": 5000, "max_event_bytes": 1048576, "max_json_depth": 32, "stop_nodes_on_free": false, "stage_wait_ms": 0, "supervisor_timeout_ms": 60000, "broker_id": "b-1"}
{"name": null, "dialect": "seed", "encoding": "auto", "mode": "threaded"}
{"name": "bad name", "request_timeout_ms": 0, "max_json_depth": 500}
EOF
fi
# engine_ops: the saved scenarios of tests/fuzz_regressions/engine_ops (a
# whole cluster lifecycle in each mode, the crashes found) are written as
# raw inputs by the target itself when it starts (ZMA_FUZZ_SEEDS_*, below);
# and a few byte strings.
if [ -d "$FUZZ/corpus/engine_ops" ]; then
    printf '\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x05\x00\x02\x00\x01' >"$FUZZ/corpus/engine_ops/seed-1"
    printf '\x01\x03\x00\x02\x01\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f' >"$FUZZ/corpus/engine_ops/seed-2"
    head -c 256 /dev/zero | tr '\0' '\7' >"$FUZZ/corpus/engine_ops/seed-3"
fi

# ---- build once ----------------------------------------------------------------
step "building the fuzz targets (nightly, fuzz/target)"
cd "$FUZZ"
cargo "+$ZMA_NIGHTLY" fuzz build "${BUILD_FLAGS[@]}" 2>&1 | tail -n 3

# ---- run -------------------------------------------------------------------------
mkdir -p "$FUZZ/logs"
failed=()
summary=()
for target in "${TARGETS[@]}"; do
    step "fuzzing $target for ${DURATION}s"
    log="$FUZZ/logs/$target.log"
    mkdir -p "$FUZZ/artifacts/$target"
    # Dictionaries of event names, Broker tags, fields and option keys.
    dict=()
    case "$target" in
        decode_*) dict=(-dict="$FUZZ/dicts/events.dict") ;;
        options) dict=(-dict="$FUZZ/dicts/options.dict") ;;
    esac
    rc=0
    ZMA_FUZZ_SEEDS_FROM="$ROOT/tests/fuzz_regressions/engine_ops" \
    ZMA_FUZZ_SEEDS_TO="$FUZZ/corpus/engine_ops" \
    cargo "+$ZMA_NIGHTLY" fuzz run "${BUILD_FLAGS[@]}" "$target" "$FUZZ/corpus/$target" -- \
        -max_total_time="$DURATION" -print_final_stats=1 -max_len=20000 \
        -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$FUZZ/artifacts/$target/" \
        "${dict[@]}" >"$log" 2>&1 || rc=$?
    # The last status line (#N DONE/... cov: ft: corp: exec/s:) and the
    # final stats.
    done_line=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    printf '%s\n' "$done_line"
    grep -E '^stat::' "$log" || true
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(printf '%s' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    if [ "$rc" -ne 0 ]; then
        failed+=("$target")
        echo "!! $target FAILED (exit $rc); from $log:"
        # The panic, the crash input, and cargo-fuzz's commands (run in fuzz/).
        grep -m 1 -A 3 -E 'panicked at|ERROR: libFuzzer|==[0-9]+==ERROR' "$log" | cut -c1-400 || true
        grep -A 2 -E '^(Failing input|Reproduce with|Minimize test case with):' "$log" || tail -n 30 "$log"
        summary+=("$(printf '%-14s CRASH  executions=%s exec/s=%s cov=%s ft=%s' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}")")
    else
        summary+=("$(printf '%-14s ok     executions=%s exec/s=%s cov=%s ft=%s' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}")")
    fi
done

step "summary (${DURATION}s per target; logs in fuzz/logs)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
