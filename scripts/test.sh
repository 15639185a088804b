#!/usr/bin/env bash
# The test job (what CI runs): format check, a Release build with warnings as errors and all
# tests, an ASan+UBSan build running the same tests, and the decoder fuzzer for a bounded time.
# Set COMMPRESS_FUZZ_SECONDS (default 90; 0 skips) to change the fuzzing time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
commpress_install_deps "${commpress_packages[@]}" clang-format clang-19 libclang-rt-19-dev

start=$SECONDS
jobs=$(nproc)
launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# The tests use precompiled headers (tests/CMakeLists.txt); ccache caches compiles that use one
# only with this sloppiness, else it runs them uncached. Added to any sloppiness set in the
# environment (an environment setting replaces the one in ccache.conf).
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:+$CCACHE_SLOPPINESS,}pch_defines,time_macros

echo "== 1/4 format (clang-format $(clang-format --version | grep -o '[0-9.]*' | head -1))"
git ls-files -- '*.hpp' '*.cpp' | xargs clang-format --dry-run -Werror

echo "== 2/4 Release build, -Werror, all tests"
cmake -S . -B build/ci-release -DCMAKE_BUILD_TYPE=Release "${launcher[@]}"
cmake --build build/ci-release -j"$jobs"
# A test name with an unmatched bracket or a semicolon makes catch_discover_tests merge the
# following tests into one entry that runs nothing: refuse such a list.
if (cd build/ci-release && ctest -N) | grep -q ';'; then
    echo "ctest discovery merged Catch test names (a ';', '[' or ']' in a TEST_CASE name):" >&2
    (cd build/ci-release && ctest -N) | grep ';' >&2
    exit 1
fi
(cd build/ci-release && ctest -j"$jobs" --output-on-failure --timeout 600)

echo "== 3/4 ASan + UBSan build, all tests"
# -g1 (line tables, no variable locations), not -g: ASan and UBSan reports keep every frame with
# file:line, inlined frames included, and the test compiles take 20-35% less CPU (no variable
# tracking, less DWARF). It goes in CMAKE_CXX_FLAGS_DEBUG, which would otherwise add -g. For a
# debugger session, build with -g.
cmake -S . -B build/ci-asan -DCMAKE_BUILD_TYPE=Debug "${launcher[@]}" \
    -DCMAKE_CXX_FLAGS="-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
    -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DCOMMPRESS_BUILD_BENCH=OFF -DCOMMPRESS_BUILD_EXAMPLES=OFF
cmake --build build/ci-asan -j"$jobs"
(cd build/ci-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j"$jobs" --output-on-failure \
    --timeout 900 -E '^(install_consumer|compile_fail:)')

echo "== 4/4 decoder fuzzing (${COMMPRESS_FUZZ_SECONDS:-90} s)"
if [[ ${COMMPRESS_FUZZ_SECONDS:-90} -gt 0 ]]; then
    bash scripts/fuzz.sh "${COMMPRESS_FUZZ_SECONDS:-90}"
fi
echo "== all test stages passed in $((SECONDS - start)) s"
