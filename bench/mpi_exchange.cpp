// SPDX-License-Identifier: MIT
// The bandwidth experiment's timer (docs/distributed.md): all-reducing one float32 gradient of
// `values` elements (default 25 M = 100 MB) over the ranks of MPI_COMM_WORLD, end to end
// (compress, exchange, decode into the result), by MPI_Allreduce in binary32 and by commpress
// recipes through comm/mpi.hpp's all-reduces: blocking, and pipelined in slices. Each operation:
// one warm-up, then `reps` timed runs, each started after an MPI_Barrier, timed on rank 0 until
// every rank is done.
//
//   mpirun -np 4 bench_mpi_exchange [--values 25000000] [--reps 3] [--json FILE] [--csv FILE]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>
#include <mpi.h>
#include <nlohmann/json.hpp>

#include <commpress/comm/mpi.hpp>
#include <commpress/commpress.hpp>

namespace cp = commpress;

namespace {

int rank_of() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

/// Mean seconds of reps runs of op, every run between barriers (the slowest rank counts).
double time_op(const std::function<void()>& op, int reps) {
    op(); // warm-up: buffers sized, pages touched
    double total = 0;
    for (int i = 0; i < reps; ++i) {
        MPI_Barrier(MPI_COMM_WORLD);
        const auto t0 = std::chrono::steady_clock::now();
        op();
        MPI_Barrier(MPI_COMM_WORLD);
        total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return total / reps;
}

template <class C>
C make(typename C::sparsifier_type sp, typename C::quantizer_type q) {
    return C{sp, q, {}, cp::seed{5}, cp::stream{.worker = static_cast<std::uint32_t>(rank_of())}};
}

} // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    std::size_t values = 25'000'000;
    int reps = 3, slices = 8;
    double gbit = 0;
    std::string json, csv;
    CLI::App app{"all-reduce of one float32 gradient: MPI_Allreduce vs commpress recipes"};
    app.add_option("--values", values, "gradient length (float32 values)");
    app.add_option("--reps", reps, "timed runs per operation");
    app.add_option("--slices", slices, "slices of the pipelined runs (1: none)")
        ->check(CLI::Range(1, 1024));
    app.add_option("--gbit", gbit, "link rate in Gbit/s, for the lower bound (0: none)");
    app.add_option("--json", json, "write the results here (rank 0)");
    app.add_option("--csv", csv, "and as CSV here (rank 0)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        MPI_Finalize();
        return rc;
    }
    const int me = rank_of();
    int p = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    std::vector<float> x(values), out(values);
    std::uint64_t s = 77 + std::uint64_t(me);
    for (float& v : x) // a gradient-like vector: N(0, 1)-ish from a sum of uniforms
        v = static_cast<float>(static_cast<double>(cp::detail::splitmix64(s++) >> 11) * 0x1p-52 -
                               1.0);
    nlohmann::json rows = nlohmann::json::array();
    double base = 0;
    // sent: the bytes one rank must send (ring-like algorithms: 2 (p - 1)/p of what is reduced;
    // all-gathers: p - 1 messages); at `gbit` they take `bound` seconds at least.
    const double share = 2.0 * (p - 1) / p;
    const auto record = [&](const std::string& name, const std::string& how, double sec,
                            double sent) {
        if (name == "fp32 MPI_Allreduce")
            base = sec;
        const double bound = gbit > 0 ? 8 * sent / (gbit * 1e9) : 0;
        if (me == 0) {
            std::printf("%-28s %-16s %9.4f s  %6.2fx  %8.1f MB sent  bound %.3f s\n", name.c_str(),
                        how.c_str(), sec, base / sec, 1e-6 * sent, bound);
            std::fflush(stdout);
        }
        rows.push_back({{"op", name},
                        {"exchange", how},
                        {"seconds", sec},
                        {"speedup", base / sec},
                        {"bytes_sent_per_rank", sent},
                        {"bound_seconds", bound}});
    };
    if (me == 0)
        std::printf("%d ranks, %zu float32 values (%.1f MB)\n", p, values, 4e-6 * double(values));

    record("fp32 MPI_Allreduce", "MPI_Allreduce",
           time_op(
               [&] {
                   MPI_Allreduce(x.data(), out.data(), static_cast<int>(values), MPI_FLOAT, MPI_SUM,
                                 MPI_COMM_WORLD);
               },
               reps),
           share * 4.0 * double(values));
    // What one rank sends for its message of `bytes`: ring all-reduce or all-gather.
    const auto sent_for = [&]<class C>(std::type_identity<C>, double bytes) {
        return cp::mpi::summable<C> ? share * bytes : (p - 1) * bytes;
    };

    // The gradient cut into `slices` tensors, one allreduce object each: slice s + 1 is
    // compressed while slice s is in flight (start, then test the earlier ones), as a training
    // loop overlaps the buckets of a backward pass.
    const auto pipelined = [&]<class C>(const std::string& name, C c) {
        std::vector<std::unique_ptr<cp::mpi::allreduce<C>>> ar;
        std::vector<std::size_t> first;
        for (int i = 0; i <= slices; ++i)
            first.push_back(values * std::size_t(i) / std::size_t(slices));
        for (int i = 0; i < slices; ++i) {
            c.set_step(0);
            ar.push_back(std::make_unique<cp::mpi::allreduce<C>>(c, MPI_COMM_WORLD));
        }
        const double sec = time_op(
            [&] {
                for (int i = 0; i < slices; ++i) {
                    const std::size_t n = first[i + 1] - first[i];
                    ar[i]->start(std::span<const float>(x).subspan(first[i], n),
                                 std::span<float>(out).subspan(first[i], n),
                                 cp::mpi::reduction::sum);
                    for (int j = 0; j < i; ++j)
                        ar[j]->test();
                }
                for (auto& a : ar)
                    a->wait();
            },
            reps);
        double bytes = 0;
        for (const auto& a : ar)
            bytes += double(a->bytes_sent());
        record(name, "pipelined x" + std::to_string(slices), sec,
               sent_for(std::type_identity<C>{}, bytes));
    };
    const auto both = [&]<class C>(const std::string& name, C c) {
        if (slices > 1)
            pipelined(name, c);
        cp::mpi::allreduce<C> gather(c, MPI_COMM_WORLD);
        const double sec = time_op(
            [&] {
                gather(std::span<const float>(x), std::span<float>(out), cp::mpi::reduction::sum);
            },
            reps);
        const double bytes = double(gather.bytes_sent());
        record(name, cp::mpi::summable<C> ? "MPI_Allreduce" : "allgather", sec,
               sent_for(std::type_identity<C>{}, bytes));
        cp::mpi::reduce_scatter_allreduce<C> rs(std::move(c), MPI_COMM_WORLD);
        record(name, "reduce-scatter",
               time_op(
                   [&] {
                       rs(std::span<const float>(x), std::span<float>(out),
                          cp::mpi::reduction::sum);
                   },
                   reps),
               share * bytes); // its chunks' messages: about one message of the whole
    };
    using namespace cp::recipes;
    both("bf16", make<bf16>({}, {}));
    both("8-bit uniform", make<uniform8>({}, {.bits = 8, .bucket = 512}));
    both("QSGD 4-bit (s = 7)", make<qsgd_packed>({}, {.levels = 7, .bucket = 512}));
    both("rand-k 1%, shared seed", make<rand_k>({.ratio = 0.01}, {}));
    both("sign (scaled)", make<scaled_sign>({}, {}));
    { // top-k 1% with error feedback (EF14's memory e: send C(e + g), keep the rest)
        cp::mpi::allreduce<top_k> gather(make<top_k>({.ratio = 0.01}, {}), MPI_COMM_WORLD);
        std::vector<float> e(values, 0.0f);
        std::vector<std::byte> msg(gather.compressor().max_message_size(values));
        const double sec = time_op(
            [&] {
                for (std::size_t j = 0; j < values; ++j)
                    e[j] += x[j];
                const std::size_t used =
                    gather.compressor().compress(std::span<const float>(e), msg);
                gather.compressor().decompress_add(std::span<const std::byte>(msg.data(), used),
                                                   std::span<float>(e), -1.0f);
                gather.reduce_messages(std::span<const std::byte>(msg.data(), used),
                                       std::span<float>(out), cp::mpi::reduction::sum);
            },
            reps);
        record("top-k 1% + EF", "allgather", sec, (p - 1) * double(gather.bytes_sent()));
    }
    if (me == 0 && !json.empty())
        std::ofstream(json)
            << nlohmann::json{{"ranks", p}, {"values", values}, {"rows", rows}}.dump(2) << '\n';
    if (me == 0 && !csv.empty()) {
        std::ofstream f(csv);
        f << "op,exchange,seconds,speedup,bytes_sent_per_rank,bound_seconds\n";
        for (const auto& r : rows)
            f << '"' << r["op"].get<std::string>() << "\"," << r["exchange"].get<std::string>()
              << ',' << r["seconds"].get<double>() << ',' << r["speedup"].get<double>() << ','
              << r["bytes_sent_per_rank"].get<double>() << ',' << r["bound_seconds"].get<double>()
              << '\n';
    }
    MPI_Finalize();
    return 0;
}
