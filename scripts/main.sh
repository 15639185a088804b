#!/usr/bin/env bash
# The main job: builds the examples (Release) and runs the DCGD experiment on Fashion-MNIST.
# Results (table on stdout, CSV, JSON, PNG plots) go to results/dcgd/. Extra arguments are
# passed to the experiment (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
commpress_install_deps "${commpress_packages[@]}"

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCOMMPRESS_BUILD_TESTS=OFF -DCOMMPRESS_BUILD_BENCH=OFF -DCOMMPRESS_BUILD_EXAMPLES=ON
cmake --build build/release -j"$(nproc)" --target dcgd_fashion_mnist
./build/release/examples/dcgd_fashion_mnist --out results/dcgd "$@"
