#!/usr/bin/env bash
# The main job: builds the examples and experiments (Release) and runs the flagship experiment,
# EF21 / EF-BV / DIANA against DCGD and GD on Fashion-MNIST. Results (table on stdout, CSV,
# JSON, PNG plot) go to results/flagship/. Extra arguments are passed to it (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
commpress_install_deps "${commpress_packages[@]}"

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCOMMPRESS_BUILD_TESTS=OFF -DCOMMPRESS_BUILD_BENCH=OFF -DCOMMPRESS_BUILD_EXAMPLES=ON
cmake --build build/release -j"$(nproc)" --target flagship
./build/release/experiments/flagship --out results/flagship "$@"
