#!/usr/bin/env bash
# Builds the decoder fuzzer with clang++-19 in build-fuzz/ and runs it for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60). Exits non-zero on a finding; the reproducer is
# written to build-fuzz/artifacts/ and printed as hex. The corpus persists in build-fuzz/corpus/.
# Environment: FUZZ_CXX (default clang++-19), FUZZ_JOBS (build parallelism, default 2).
set -euo pipefail

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
    echo "usage: $0 [SECONDS > 0]" >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-fuzz
corpus=$build/corpus/fuzz_decode
artifacts=$build/artifacts

CXX=${FUZZ_CXX:-clang++-19} cmake -S "$root" -B "$build" \
    -DCOMMPRESS_BUILD_FUZZERS=ON -DCOMMPRESS_BUILD_TESTS=OFF \
    -DCOMMPRESS_BUILD_BENCH=OFF -DCOMMPRESS_BUILD_EXAMPLES=OFF
cmake --build "$build" -j "${FUZZ_JOBS:-2}" --target fuzz_decode

# The clang 19 runtime looks for llvm-symbolizer-19, which Debian ships only in llvm-19; any
# llvm-symbolizer will do (the one of clang 14 symbolizes these binaries), else stacks are raw.
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]]; then
    for s in /usr/lib/llvm-19/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
        if [[ -n $s && -x $s ]]; then
            export ASAN_SYMBOLIZER_PATH=$s UBSAN_SYMBOLIZER_PATH=$s
            break
        fi
    done
fi

mkdir -p "$corpus" "$artifacts"
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
rc=0
# -timeout: an input that takes over 10 s is a finding (a decoder must fail fast on bad bytes).
"$build/fuzz/fuzz_decode" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" || rc=$?

if ((rc != 0)); then
    echo "fuzz_decode: finding (exit code $rc); reproducers:" >&2
    find "$artifacts" -type f -newer "$marker" | while read -r f; do
        echo "== $f" >&2
        od -An -tx1 -v "$f" | tr -d ' \n' >&2
        echo >&2
    done
    echo "replay with: $build/fuzz/fuzz_decode <file>" >&2
    exit "$rc"
fi
