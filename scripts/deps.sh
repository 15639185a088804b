#!/usr/bin/env bash
# Installs the Debian 12 packages commpress needs that are missing (root, apt). Sourced by the
# README's two commands; safe to run again: it installs nothing when everything is present.
set -euo pipefail

commpress_packages=(
    build-essential cmake ccache pkg-config
    libxtensor-dev libxsimd-dev xtl-dev librandom123-dev   # the library's own dependencies
    libzstd-dev                                            # optional: encode::zstd
    catch2 libbenchmark-dev                                # tests and benchmarks
    zlib1g-dev libcli11-dev nlohmann-json3-dev             # examples: gzip IDX, command line, JSON
    gnuplot-nox dataset-fashion-mnist                      # plots and the main job's data
    liblinear-tools                                        # heart_scale, the LIBSVM test file
    libopenmpi-dev openmpi-bin                             # comm/mpi.hpp and its tests
    liblapack-dev                                          # tests: dgesdd, the SVD oracle
)

commpress_install_deps() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "== installing Debian packages: ${missing[*]}"
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
            "${missing[@]}"
    fi
}
