#!/usr/bin/env bash
# Build every cargo-fuzz target and run each for a bounded time.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]    (default: 60 s, every target)
#
# Exits non-zero when any target crashes (a panic, a failed property, an
# arithmetic overflow, a leak of time or memory past the limits below), after
# running the others, and prints where each crashing input was saved
# (fuzz/artifacts/TARGET/crash-…); reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none -a TARGET fuzz/artifacts/TARGET/crash-…
# (from the repository root or fuzz/).
#
# Stable toolchain only: cargo-fuzz passes nightly-only flags (`-Z…`, and
# `--cfg fuzzing` checks), which RUSTC_BOOTSTRAP=1 lets the stable compiler
# take. The sanitizer is none by default: every crate here forbids unsafe code,
# so AddressSanitizer would find nothing a panic does not, at half the speed.
# FUZZ_SANITIZER=address selects it (it works on stable too: the stable
# toolchain ships its runtime), at the cost of a separate full build.
# `-a` keeps debug assertions and overflow checks on, so an overflow is a crash.
#
# Inputs a run finds interesting are added to fuzz/corpus/TARGET/ (git-ignored
# but for the committed seed-* files), so later runs start from them.
set -euo pipefail

seconds="${1:-60}"
shift || true
case "$seconds" in
'' | *[!0-9]*)
    echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
    ;;
esac
sanitizer="${FUZZ_SANITIZER:-none}"

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (cargo install --locked cargo-fuzz)"
    cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir "$PWD")
fi
# --fuzz-dir: this directory, wherever cargo-fuzz would otherwise look.
flags=(--fuzz-dir "$PWD" --sanitizer "$sanitizer" --debug-assertions --release)

started=$(date +%s)
echo "== building ${#targets[@]} fuzz targets (sanitizer: $sanitizer)"
cargo fuzz build "${flags[@]}"
built=$(date +%s)
echo "== built in $((built - started)) s"

failed=()
for target in "${targets[@]}"; do
    echo "== $target: ${seconds} s"
    mkdir -p "corpus/$target" "artifacts/$target"
    log="artifacts/$target/last-run.log"
    rc=0
    # One run stops at its first crash and saves the input in artifacts/TARGET/.
    cargo fuzz run "${flags[@]}" "$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || rc=$?
    grep -E "^Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
    if [ "$rc" -ne 0 ]; then
        failed+=("$target")
        echo "!! $target failed (exit $rc), log: fuzz/$log"
        grep -m3 -E "panicked at|ERROR: libFuzzer|==[0-9]+== ERROR" "$log" || true
        sed -n '/^Failing input:/,/^Output of/p' "$log" | grep -v '^Output of' || true
    fi
done

finished=$(date +%s)
echo "== build $((built - started)) s, runs $((finished - built)) s, total $((finished - started)) s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "== FAILED: ${failed[*]}" >&2
    for target in "${failed[@]}"; do
        for input in "artifacts/$target"/crash-* "artifacts/$target"/oom-* \
            "artifacts/$target"/timeout-* "artifacts/$target"/leak-*; do
            if [ -e "$input" ]; then echo "   fuzz/$input" >&2; fi
        done
    done
    echo "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer -a TARGET fuzz/artifacts/TARGET/crash-..." >&2
    exit 1
fi
echo "== all ${#targets[@]} targets ran ${seconds} s each without a crash"
