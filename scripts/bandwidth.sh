#!/usr/bin/env bash
# The bandwidth experiment (docs/distributed.md): 4 "hosts" in network namespaces around a bridge,
# every NIC shaped to RATE (default 1 Gbit/s) each way with tc tbf, one MPI rank per host over
# TCP. Times the all-reduce of a 100 MB float32 gradient: MPI_Allreduce (ring, pinned) against
# commpress recipes. Results: results/bandwidth/{results.json,results.csv,speedup.png}.
# Needs root with the right to create network namespaces; without it, says so and skips (exit 0).
# Everything it creates is removed on exit. Extra arguments go to bench_mpi_exchange.
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
cmake -S . -B build/bandwidth -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCOMMPRESS_BUILD_TESTS=OFF -DCOMMPRESS_BUILD_BENCH=ON -DCOMMPRESS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bandwidth -j"$(nproc)" --target bench_mpi_exchange

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

mkdir -p results/bandwidth
hosts=$(seq -s, -f '10.78.0.%g' 1 $N)
# Only TCP over the shaped eth0 (no shared memory); MPI_Allreduce pinned to the ring algorithm,
# its fastest on this set-up (PLATFORM.md: 1.62 s against 2.3-2.5 s for the default choice).
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    ip netns exec ${NS}0 mpirun --host "$hosts" -np $N \
    --mca plm_rsh_agent "$work/agent" --mca btl self,tcp --mca btl_tcp_if_include eth0 \
    --mca oob_tcp_if_include eth0 --mca coll_tuned_use_dynamic_rules 1 \
    --mca coll_tuned_allreduce_algorithm 4 --mca coll_tuned_allgatherv_algorithm "${ALLGATHERV:-3}" \
    --mca coll_tuned_alltoallv_algorithm "${ALLTOALLV:-2}" \
    "$PWD/build/bandwidth/bench/bench_mpi_exchange" --json "$PWD/results/bandwidth/results.json" \
    --csv "$PWD/results/bandwidth/results.csv" "$@" </dev/null

gnuplot <<PLOT
set terminal pngcairo size 900,560 noenhanced
set bmargin 9
set output "results/bandwidth/speedup.png"
set datafile separator ","
set title "all-reduce of 100 MB over $N ranks, $RATE links: time of MPI_Allreduce(fp32) / time"
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
set xtics rotate by -35 noenhanced
set ylabel "speed-up"
set grid ytics
set key off
plot "results/bandwidth/results.csv" every ::1 using 4:xtic(sprintf("%s, %s", stringcolumn(1), stringcolumn(2)))
PLOT
echo "wrote results/bandwidth/{results.json,results.csv,speedup.png}"
