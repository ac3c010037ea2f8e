#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a bounded time:
#   scripts/fuzz.sh [SECONDS]        (default 30 seconds per target)
#   FUZZ_TARGETS="sdp" scripts/fuzz.sh 600   (only some targets)
# Targets: sip_message (parse_message, call_id_of, salvage_request), sdp
# (Sdp::parse, negotiate, build_answer), dispatcher (the Dispatcher and its
# Dialogs fed message sequences on a fake clock). Each starts from its seeds
# (tests/sip_corpus/ and fuzz/seeds/<target>/) plus what earlier runs found in
# fuzz/corpus/<target>/ (not committed). Fails if any target crashes; the
# crashing input is kept in fuzz/artifacts/<target>/.
# Needs cargo-fuzz (scripts/install-test-deps.sh) and a nightly toolchain, or
# RUSTC_BOOTSTRAP=1 on stable when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
read -r -a targets <<<"${FUZZ_TARGETS:-sip_message sdp dispatcher}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing: run scripts/install-test-deps.sh" >&2
    exit 1
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    echo "fuzz.sh: no nightly toolchain, building with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
# The code under test is safe Rust: what a run looks for is panics, failed
# assertions and overflows (debug assertions are on), not memory errors, so
# AddressSanitizer (cargo-fuzz's default, 2-3x slower) is left out.
build_flags=(--sanitizer none)

"${fuzz[@]}" build "${build_flags[@]}"
failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    seeds=()
    [[ -d "fuzz/seeds/$target" ]] && seeds+=("fuzz/seeds/$target")
    [[ "$target" != sdp ]] && seeds+=("tests/sip_corpus")
    log="fuzz/artifacts/$target/last-run.log"
    echo "fuzz.sh: $target for ${seconds}s"
    if "${fuzz[@]}" run "${build_flags[@]}" "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -dict=fuzz/sip.dict -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" \
            | sed "s/^/fuzz.sh: $target /" || true
    else
        echo "fuzz.sh: $target FAILED, see $log" >&2
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -n 20 "$log" >&2
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: crashes in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]} (${seconds}s each)"
