#!/usr/bin/env bash
# The bandwidth experiment (docs/distributed.md): 4 "hosts" in network namespaces around a bridge,
# every NIC shaped to RATE (default 1 Gbit/s) each way with tc tbf, one MPI rank per host over
# TCP. 1) Times the all-reduce of a 100 MB float32 gradient: MPI_Allreduce (ring, pinned) against
# commpress recipes: results/bandwidth/{results.json,results.csv,times.png}. 2) Trains a model
# to a target with GD (MPI_Allreduce) and compressed methods (mpi::engine), wall-clock:
# results/mpi_train/{curves.csv,summary.json,time.png,bits.png}. PARTS="bench" or "train" runs
# one of them; TRAIN_ARGS passes arguments to mpi_train.
# Needs root with the right to create network namespaces; without it, says so and skips (exit 0).
# Everything it creates is removed on exit. Extra arguments go to bench_mpi_exchange.
# It needs the machine to itself: 4 ranks share the cores, and other load changes the times.
set -euo pipefail
cd "$(dirname "$0")/.."
N=4
RATE=${RATE:-1gbit}
HUB=cpbwhub
NS=cpbw # hosts cpbw0 .. cpbw3, addresses 10.78.0.1 .. 10.78.0.4, only inside the namespaces

if ! ip netns add ${NS}probe 2>/dev/null; then
    echo "bandwidth.sh: cannot create network namespaces here (needs root and CAP_NET_ADMIN): skipped"
    exit 0
fi
ip netns del ${NS}probe

source scripts/deps.sh
commpress_install_deps "${commpress_packages[@]}" iproute2
PARTS=${PARTS:-bench train}
cmake -S . -B build/bandwidth -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCOMMPRESS_BUILD_TESTS=OFF -DCOMMPRESS_BUILD_BENCH=ON -DCOMMPRESS_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/bandwidth -j"$(nproc)" --target bench_mpi_exchange mpi_train

work=$(mktemp -d)
down() {
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^(${HUB}|${NS}[0-9]+)$"); do
        ip netns del "$ns"
    done
    rm -rf "$work"
}
trap down EXIT

echo "== $N hosts, $RATE per NIC each way"
ip netns add $HUB
ip -n $HUB link add br0 type bridge
ip -n $HUB link set br0 up
for ((i = 0; i < N; i++)); do
    ip netns add $NS$i
    ip -n $NS$i link add eth0 type veth peer name vh$i netns $HUB
    ip -n $NS$i addr add 10.78.0.$((i + 1))/24 dev eth0
    ip -n $NS$i link set lo up
    ip -n $NS$i link set eth0 up
    ip -n $HUB link set vh$i master br0
    ip -n $HUB link set vh$i up
    ip netns exec $NS$i tc qdisc add dev eth0 root tbf rate "$RATE" burst 256kb latency 50ms
    ip netns exec $HUB tc qdisc add dev vh$i root tbf rate "$RATE" burst 256kb latency 50ms
done

# mpirun starts its daemons through this stand-in for ssh: "agent [opts] HOST CMD" runs CMD in
# HOST's namespace.
cat >"$work/agent" <<AGENT
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift;; *) break;; esac; done
host=\$1; shift; idx=\${host##*.}
exec ip netns exec "$NS\$((idx-1))" sh -c "\$*"
AGENT
chmod +x "$work/agent"

hosts=$(seq -s, -f '10.78.0.%g' 1 $N)
# Only TCP over the shaped eth0 (no shared memory). MPI_Allreduce pinned to the ring algorithm,
# its fastest on this set-up (PLATFORM.md: 1.62 s against 2.3-2.5 s for the default choice);
# MPI_Allgatherv to the ring and MPI_Alltoallv to pairwise exchange, which send to one peer at a
# time: the default linear algorithms send to all at once, and the flows into one host then
# queue at its 1 Gbit/s port (bf16's reduce-scatter all-reduce: 1.10 s, against 0.94 s).
run() {
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    ip netns exec ${NS}0 mpirun --host "$hosts" -np $N \
    --mca plm_rsh_agent "$work/agent" --mca btl self,tcp --mca btl_tcp_if_include eth0 \
    --mca oob_tcp_if_include eth0 --mca coll_tuned_use_dynamic_rules 1 \
    --mca coll_tuned_allreduce_algorithm 4 --mca coll_tuned_allgatherv_algorithm "${ALLGATHERV:-3}" \
    --mca coll_tuned_alltoallv_algorithm "${ALLTOALLV:-2}" \
        "$@" </dev/null
}

case $RATE in # the link rate in Gbit/s, for the lower bounds
*gbit) gbit=${RATE%gbit} ;;
*mbit) gbit=$(awk "BEGIN { print ${RATE%mbit} / 1000 }") ;;
*) gbit=0 ;;
esac

if [[ " $PARTS " == *" bench "* ]]; then
    mkdir -p results/bandwidth
    run "$PWD/build/bandwidth/bench/bench_mpi_exchange" --gbit "$gbit" \
        --json "$PWD/results/bandwidth/results.json" --csv "$PWD/results/bandwidth/results.csv" "$@"
    gnuplot <<PLOT
set terminal pngcairo size 1000,600 noenhanced
set bmargin 10
set rmargin 12
set output "results/bandwidth/times.png"
set datafile separator ","
set title "all-reduce of 100 MB over $N ranks, $RATE links (time per all-reduce)"
set style fill solid 0.7
set boxwidth 0.7
set xtics rotate by -35 noenhanced
set ylabel "seconds"
set logscale y
set grid ytics
set key top right
fp32_bound = 2.0 * ($N - 1) / $N * 100e6 * 8 / ($gbit * 1e9)
plot "results/bandwidth/results.csv" every ::1 using 0:3:xtic(sprintf("%s, %s", stringcolumn(1), stringcolumn(2))) with boxes title "measured", \
     "" every ::1 using 0:6 with points pt 7 ps 1.3 lc rgb "black" title "lower bound: bytes a rank sends / link rate", \
     fp32_bound with lines dt 2 lc rgb "red" title sprintf("ring lower bound for fp32: 2(p-1)/p x 100 MB / rate = %.2f s", fp32_bound)
PLOT
    echo "wrote results/bandwidth/{results.json,results.csv,times.png}"
fi

if [[ " $PARTS " == *" train "* ]]; then
    # shellcheck disable=SC2086 # TRAIN_ARGS: extra arguments for mpi_train, split on spaces
    run "$PWD/build/bandwidth/experiments/mpi_train" --out "$PWD/results/mpi_train" ${TRAIN_ARGS:-}
fi
