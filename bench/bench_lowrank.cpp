// SPDX-License-Identifier: MIT
// The low-rank operators on a 4096 x 4096 binary32 matrix (64 MiB), one thread, beside a memcpy
// of the same bytes: PowerSGD rank 4 (the operator: P = M Q, Gram-Schmidt, Q^T = P^T M and the
// output P Q^T; and the whole error-feedback step of one worker with its server), and the
// randomized SVD (rank 4, oversampling 10, q = 0 and 1). docs/benchmarks.md quotes the ratios.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <benchmark/benchmark.h>

#include <commpress/commpress.hpp>

namespace {

namespace lr = commpress::lowrank;
constexpr std::size_t side = 4096, rank = 4;

std::vector<float> matrix(std::uint64_t seed) {
    std::vector<float> a(side * side);
    for (float& v : a)
        v = static_cast<float>(
            static_cast<double>(commpress::detail::splitmix64(seed++) >> 11) * 0x1p-52 - 1.0);
    return a;
}

void bm_memcpy(benchmark::State& st) {
    const auto x = matrix(1);
    std::vector<float> y(x.size());
    for (auto _ : st) {
        std::memcpy(y.data(), x.data(), 4 * x.size());
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * 4 * x.size()));
}

// What GRACE's PowerSGD compressor computes per tensor: compress (P = M Q, orthogonalise,
// Q = M^T P) and decompress (P Q^T), with the warm-started Q kept.
void bm_power_sgd_operator(benchmark::State& st) {
    const auto m = matrix(2);
    std::vector<float> p(side * rank), qt(side * rank), out(side * side);
    std::vector<double> work(side * rank);
    lr::power_sgd({.rank = rank}, {{side, side}}).initial_q(qt);
    const lr::matrix_view<const float> M(std::span<const float>(m), side, side);
    for (auto _ : st) {
        lr::power_step<float>(M, lr::matrix_view<float>(std::span(p), side, rank),
                              lr::matrix_view<float>(std::span(qt), rank, side), work, 1e-8);
        lr::multiply<false, float>(
            lr::matrix_view<const float>(std::span<const float>(p), side, rank),
            lr::matrix_view<const float>(std::span<const float>(qt), rank, side),
            lr::matrix_view<float>(std::span(out), side, side));
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * 4 * m.size()));
}

// One worker's step as GRACE's PowerSGD with its memory runs it (bench/grace_powersgd.py):
// M = e + gamma g, P = M Q, Gram-Schmidt, Q^T = P^T M, the output P Q^T and the memory
// e = M - output. With one worker the sums are its own P and Q, written as the server would.
void bm_power_sgd_worker_step(benchmark::State& st) {
    const auto g = matrix(3);
    const lr::power_sgd c({.rank = rank}, {{side, side}});
    lr::power_sgd_worker w(commpress::feedback::ef14{.gamma = 0.1}, c, g.size(), 1);
    std::vector<std::byte> msg(c.max_message_size()), sum(c.max_message_size());
    const auto as_sum = [&](lr::power_sgd::part part, std::size_t used) {
        const std::span<const float> values(
            reinterpret_cast<const float*>(msg.data() + commpress::message_header::size),
            (used - commpress::message_header::size) / 4);
        return std::span<const std::byte>(
            sum.data(), lr::detail::write_factors(values, c.fingerprint(part), g.size(),
                                                  commpress::shared_worker, w.round(), {}, sum));
    };
    for (auto _ : st) {
        const std::size_t p = w.step(g, msg);
        const std::size_t q = w.answer(as_sum(lr::power_sgd::part::p_sum, p), msg);
        w.receive(as_sum(lr::power_sgd::part::q_mean, q));
        benchmark::DoNotOptimize(w.output().data());
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * 4 * g.size()));
}

// The whole step of feedback::ef14 with lowrank::power_sgd, one worker and its server in one
// process: M = e + gamma g, both rounds' messages, the memory and the model update.
void bm_power_sgd_ef_step(benchmark::State& st) {
    const auto g = matrix(3);
    const lr::power_sgd c({.rank = rank}, {{side, side}});
    lr::power_sgd_worker w(commpress::feedback::ef14{.gamma = 0.1}, c, g.size(), 1);
    lr::power_sgd_server s(commpress::feedback::ef14{.gamma = 0.1}, c, g.size(), 1);
    std::vector<std::byte> msg(c.max_message_size());
    std::vector<float> x(g.size());
    for (auto _ : st) {
        s.receive(std::span(msg).first(w.step(g, msg)));
        s.receive_answer(std::span(msg).first(w.answer(s.p_sum(), msg)));
        w.receive(s.q_mean());
        s.update(x);
        benchmark::DoNotOptimize(x.data());
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * 4 * g.size()));
}

// Randomized SVD: compress (sketch, q power iterations, B = Q^T A and its SVD) and decompress.
void bm_randomized_svd(benchmark::State& st) {
    const auto a = matrix(4);
    lr::randomized_svd c({.rank = rank,
                          .oversampling = 10,
                          .power_iterations = static_cast<std::size_t>(st.range(0))},
                         {{side, side}});
    std::vector<std::byte> msg(c.max_message_size(a.size()));
    std::vector<float> out(a.size());
    for (auto _ : st) {
        const std::size_t used = c.compress(std::span<const float>(a), std::span(msg));
        c.decompress(std::span<const std::byte>(msg.data(), used), std::span(out));
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * 4 * a.size()));
}

} // namespace

BENCHMARK(bm_memcpy)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_power_sgd_operator)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_power_sgd_worker_step)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_power_sgd_ef_step)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_randomized_svd)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
