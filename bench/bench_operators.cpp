// SPDX-License-Identifier: MIT
// Compress, decompress and decompress_add of every recipe at 2^20 and 2^24 floats, beside a
// memcpy of the same 4n bytes and plain scalar baselines: docs/benchmarks.md quotes ratios
// t_memcpy / t_op from one run.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <benchmark/benchmark.h>

#include <commpress/commpress.hpp>
#include <commpress/kernels/half.hpp>
#ifdef COMMPRESS_BENCH_ZSTD
#include <commpress/encode/zstd.hpp>
#endif

namespace {

using namespace commpress;

constexpr std::int64_t small_n = std::int64_t{1} << 20;
constexpr std::int64_t large_n = std::int64_t{1} << 24;
constexpr double min_time = 0.2; // seconds per benchmark: keeps the whole binary to minutes

/// N(0, 1) floats, generated once per size and shared by every benchmark.
const std::vector<float>& gaussian(std::size_t n) {
    static std::map<std::size_t, std::vector<float>> cache;
    auto [it, fresh] = cache.try_emplace(n);
    if (fresh) {
        std::mt19937_64 rng(20261123);
        std::normal_distribution<float> normal;
        it->second.resize(n);
        for (float& v : it->second)
            v = normal(rng);
    }
    return it->second;
}

/// Every benchmark moves 4n bytes of float32 per iteration, so GB/s compare across operators.
void set_bytes(benchmark::State& st, std::size_t n) {
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(4 * n));
}

void set_bits(benchmark::State& st, std::size_t msg_bytes, std::size_t n) {
    st.counters["bits_per_elem"] = static_cast<double>(8 * msg_bytes) / static_cast<double>(n);
    st.counters["msg_bytes"] = static_cast<double>(msg_bytes);
}

void bm_memcpy(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const std::vector<float>& x = gaussian(n);
    std::vector<float> y(n);
    for (auto _ : st) {
        std::memcpy(y.data(), x.data(), 4 * n);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
    set_bits(st, 4 * n, n);
}

template <class P>
P make_pipeline();

/// The recipes with the parameters docs/benchmarks.md states: 1% of the coordinates for the
/// sparsifiers (k = 1%, k' = 2% for comp_k, 100 blocks for perm_k, lambda = 2.5758 for
/// threshold: P(|N(0,1)| >= 2.5758) = 1%), 4 levels for qsgd_packed, defaults otherwise
/// (qsgd: 16 levels, one norm per tensor).
template <class P>
P make() {
    if constexpr (requires { typename P::inner_type; })
        return P{}; // on_threads below
    else
        return make_pipeline<P>();
}

template <class P>
P make_pipeline() {
    typename P::sparsifier_type sp{};
    if constexpr (requires { sp.ratio; })
        sp.ratio = 0.01;
    if constexpr (requires { sp.ratio_prime; })
        sp.ratio_prime = 0.02;
    if constexpr (requires { sp.workers; })
        sp.workers = 100;
    if constexpr (requires { sp.lambda; })
        sp.lambda = 2.5758;
    typename P::quantizer_type qu{};
    if constexpr (std::is_same_v<P, recipes::qsgd_packed>)
        qu.levels = 4;
    return P{sp, qu};
}

using induced_topk_randk = induced<recipes::top_k, recipes::rand_k>;
template <>
induced_topk_randk make<induced_topk_randk>() {
    return induced_topk_randk{make<recipes::top_k>(), make<recipes::rand_k>()};
}

/// chunked<P> in chunks of 2^20 on a team of Threads threads, the calling one included: the
/// multi-threaded compress and decompress.
template <class P, unsigned Threads>
struct on_threads : chunked<P> {
    on_threads()
        : chunked<P>(make<P>(), std::size_t{1} << 20,
                     Threads > 1 ? std::make_shared<thread_team>(Threads) : nullptr) {}
};

/// One message of x, made outside the timed loops of the decoders.
template <class P>
std::vector<std::byte> message(P& p, std::span<const float> x) {
    std::vector<std::byte> msg(p.max_message_size(x.size()));
    msg.resize(p.compress(x, std::span<std::byte>(msg)));
    return msg;
}

template <class P>
void bm_compress(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const std::span<const float> x(gaussian(n));
    P p = make<P>();
    std::vector<std::byte> out(p.max_message_size(n));
    // One untimed call grows the workspace to n: the loop then measures the steady state, in
    // which compress allocates nothing (otherwise the first iteration's page faults count).
    std::size_t bytes = p.compress(x, std::span<std::byte>(out));
    for (auto _ : st) {
        bytes = p.compress(x, std::span<std::byte>(out));
        benchmark::DoNotOptimize(bytes);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
    set_bits(st, bytes, n);
}

template <class P>
void bm_decompress(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    P sender = make<P>(), receiver = make<P>();
    const std::vector<std::byte> msg = message(sender, std::span<const float>(gaussian(n)));
    std::vector<float> out(n);
    // Warm-up, untimed: the receiver's workspace (scales, rand_k's indices) grows to n here.
    receiver.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    for (auto _ : st) {
        receiver.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
    set_bits(st, msg.size(), n);
}

template <class P>
void bm_decompress_add(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    P sender = make<P>(), receiver = make<P>();
    const std::vector<std::byte> msg = message(sender, std::span<const float>(gaussian(n)));
    std::vector<float> acc(n, 0.0f);
    // Warm-up, untimed, as in bm_decompress.
    receiver.decompress_add(std::span<const std::byte>(msg), std::span<float>(acc), 0.5f);
    for (auto _ : st) {
        receiver.decompress_add(std::span<const std::byte>(msg), std::span<float>(acc), 0.5f);
        benchmark::DoNotOptimize(acc.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
    set_bits(st, msg.size(), n);
}

// Plain scalar C++ baselines, one value at a time with the standard library: what a direct
// implementation costs on this machine (the column "scalar baseline" of docs/benchmarks.md).

/// Exact top-k (1%) as research code writes it: std::nth_element on indices by magnitude, then
/// the kept indices sorted and their values gathered.
void baseline_top_k(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const std::vector<float>& x = gaussian(n);
    const std::size_t k = n / 100;
    std::vector<std::uint32_t> order(n), idx(k);
    std::vector<float> val(k);
    for (auto _ : st) {
        std::iota(order.begin(), order.end(), 0u);
        std::nth_element(
            order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return std::abs(x[a]) > std::abs(x[b]); });
        std::copy_n(order.begin(), k, idx.begin());
        std::sort(idx.begin(), idx.end());
        for (std::size_t j = 0; j < k; ++j)
            val[j] = x[idx[j]];
        benchmark::DoNotOptimize(val.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
}

/// binary16 round to nearest even, one value at a time (the scalar conversion, no F16C).
void baseline_fp16(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const std::vector<float>& x = gaussian(n);
    std::vector<std::uint16_t> out(n);
    for (auto _ : st) {
        for (std::size_t j = 0; j < n; ++j)
            out[j] = kernels::to_binary16<kernels::rounding::nearest_even>(x[j]);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
}

/// QSGD with 16 levels as the papers' code does it: the l2 norm, then one std::mt19937 uniform
/// per value and a byte per code.
void baseline_qsgd(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const std::vector<float>& x = gaussian(n);
    std::vector<std::uint8_t> out(n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (auto _ : st) {
        double sq = 0;
        for (const float v : x)
            sq += static_cast<double>(v) * v;
        const auto norm = static_cast<float>(std::sqrt(sq));
        for (std::size_t j = 0; j < n; ++j) {
            const float y = std::abs(x[j]) / norm * 16.0f, fl = std::floor(y);
            const auto level = static_cast<std::uint8_t>(fl + (u(rng) < y - fl ? 1.0f : 0.0f));
            out[j] = static_cast<std::uint8_t>(level << 1 | (x[j] < 0 ? 1 : 0));
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
}

/// signSGD: one bit per value, packed into bytes bit by bit.
void baseline_sign(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const std::vector<float>& x = gaussian(n);
    std::vector<std::uint8_t> out((n + 7) / 8);
    for (auto _ : st) {
        std::fill(out.begin(), out.end(), std::uint8_t{0});
        for (std::size_t j = 0; j < n; ++j)
            if (std::signbit(x[j]))
                out[j / 8] = static_cast<std::uint8_t>(out[j / 8] | (1u << (j % 8)));
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
}

/// rand-k (1%) as torch.randperm(n)[:k] does it: a shuffle of all n indices, then the first k
/// sorted and their values gathered.
void baseline_rand_k(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const std::vector<float>& x = gaussian(n);
    const std::size_t k = n / 100;
    std::vector<std::uint32_t> perm(n);
    std::vector<float> val(k);
    std::mt19937 rng(1);
    for (auto _ : st) {
        std::iota(perm.begin(), perm.end(), 0u);
        std::shuffle(perm.begin(), perm.end(), rng);
        std::sort(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(k));
        for (std::size_t j = 0; j < k; ++j)
            val[j] = x[perm[j]];
        benchmark::DoNotOptimize(val.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, n);
}

// Encoders alone, on the code streams they meet in the recipes: throughput counted in bytes of
// encoded output (the "GB/s of encoded output"), encode and decode.

/// The layout and streams of an encoder benchmark: QSGD codes (16 levels, one norm) for the
/// dense encoders, the top-1% coordinates with their fp32 codes for the index coders.
struct code_stream {
    code_layout layout;
    std::vector<std::uint32_t> indices, codes;
};

code_stream stream_of(bool sparse, std::size_t n) {
    const std::vector<float>& x = gaussian(n);
    code_stream s;
    if (sparse) {
        const sparsify::top_k sp{.ratio = 0.01};
        sparsify::top_k::workspace w;
        const auto sel = sp.select(std::span<const float>(x), draw_context{}, w);
        s.indices.assign(sel.indices.begin(), sel.indices.end());
        for (const float v : sel.values)
            s.codes.push_back(std::bit_cast<std::uint32_t>(v));
        s.layout = {n, s.indices.size(), true, 32, true};
    } else {
        const quantize::qsgd q{.levels = 16};
        std::vector<float> scales(1);
        s.codes.resize(n);
        q.quantize(std::span<const float>(x), draw_context{}, std::span<float>(scales),
                   std::span<std::uint32_t>(s.codes));
        s.layout = {n, n, false, q.code_bits(), true};
    }
    return s;
}

template <class E, bool Sparse>
void bm_encode(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const code_stream s = stream_of(Sparse, n);
    const E e{};
    std::vector<std::byte> out(e.max_bytes(s.layout) + 8);
    std::size_t bytes = 0;
    for (auto _ : st) {
        bit_writer w(out);
        e.encode(s.layout, s.indices, s.codes, w);
        bytes = w.finish();
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
    set_bits(st, bytes, n);
}

template <class E, bool Sparse>
void bm_decode(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    const code_stream s = stream_of(Sparse, n);
    const E e{};
    std::vector<std::byte> buf(e.max_bytes(s.layout) + 8);
    bit_writer w(buf);
    e.encode(s.layout, s.indices, s.codes, w);
    buf.resize(w.finish());
    std::uint64_t sum = 0;
    for (auto _ : st) {
        bit_reader r(buf, "bench");
        e.decode(s.layout, r, [&](std::size_t, std::uint32_t index, std::uint32_t code) {
            sum += index ^ code;
        });
        benchmark::DoNotOptimize(sum);
    }
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(buf.size()));
    set_bits(st, buf.size(), n);
}

template <class E, bool Sparse>
void register_encoder(const std::string& name) {
    for (const char* what : {"encode/", "decode/"}) {
        auto* b = benchmark::RegisterBenchmark(
            (what + name).c_str(), what[0] == 'e' ? bm_encode<E, Sparse> : bm_decode<E, Sparse>);
        b->Arg(large_n)->Unit(benchmark::kMillisecond)->MinTime(min_time);
    }
}

void configure(benchmark::internal::Benchmark* b) {
    b->Arg(small_n)->Arg(large_n)->Unit(benchmark::kMillisecond)->MinTime(min_time);
}

template <class P>
void register_recipe(const std::string& name) {
    configure(benchmark::RegisterBenchmark(("compress/" + name).c_str(), bm_compress<P>));
    configure(benchmark::RegisterBenchmark(("decompress/" + name).c_str(), bm_decompress<P>));
    configure(
        benchmark::RegisterBenchmark(("decompress_add/" + name).c_str(), bm_decompress_add<P>));
}

/// "chunked_<name>_t<threads>" for 1 and 2 threads (the machine's cores), at 2^24 only.
template <class P>
void register_threads(const std::string& name) {
    const auto one = [](const std::string& what, auto fn) {
        benchmark::RegisterBenchmark(what.c_str(), fn)
            ->Arg(large_n)
            ->Unit(benchmark::kMillisecond)
            ->MinTime(min_time);
    };
    const std::string t1 = "chunked_" + name + "_t1", t2 = "chunked_" + name + "_t2";
    one("compress/" + t1, bm_compress<on_threads<P, 1>>);
    one("compress/" + t2, bm_compress<on_threads<P, 2>>);
    one("decompress/" + t1, bm_decompress<on_threads<P, 1>>);
    one("decompress/" + t2, bm_decompress<on_threads<P, 2>>);
    one("decompress_add/" + t1, bm_decompress_add<on_threads<P, 1>>);
    one("decompress_add/" + t2, bm_decompress_add<on_threads<P, 2>>);
}

// Registration order is run order (docs/benchmarks.md interleaves the repetitions at random):
// the memcpy baseline, then the recipes as recipes.hpp lists them.
[[maybe_unused]] const bool registered = [] {
    configure(benchmark::RegisterBenchmark("bm_memcpy", bm_memcpy));
    configure(benchmark::RegisterBenchmark("baseline/top_k", baseline_top_k));
    configure(benchmark::RegisterBenchmark("baseline/fp16", baseline_fp16));
    configure(benchmark::RegisterBenchmark("baseline/qsgd", baseline_qsgd));
    configure(benchmark::RegisterBenchmark("baseline/sign", baseline_sign));
    configure(benchmark::RegisterBenchmark("baseline/rand_k", baseline_rand_k));
    register_recipe<recipes::fp32>("fp32");
    register_recipe<recipes::fp16>("fp16");
    register_recipe<recipes::bf16>("bf16");
    register_recipe<recipes::fp16_sr>("fp16_sr");
    register_recipe<recipes::bf16_sr>("bf16_sr");
    register_recipe<recipes::top_k>("top_k");
    register_recipe<recipes::rand_k>("rand_k");
    register_recipe<recipes::qsgd>("qsgd");
    register_recipe<recipes::qsgd_packed>("qsgd_packed");
    register_recipe<recipes::scaled_sign>("scaled_sign");
    register_recipe<recipes::topk_qsgd>("topk_qsgd");
    register_recipe<recipes::natural>("natural");
    register_recipe<recipes::natural_dithering>("natural_dithering");
    register_recipe<recipes::terngrad>("terngrad");
    register_recipe<recipes::uniform8>("uniform8");
    register_recipe<recipes::uniform8_sr>("uniform8_sr");
    register_recipe<pipeline<sparsify::comp_k, quantize::identity, encode::bitpack>>("comp_k");
    register_recipe<pipeline<sparsify::mix_k, quantize::identity, encode::bitpack>>("mix_k");
    register_recipe<pipeline<sparsify::perm_k, quantize::identity, encode::raw>>("perm_k");
    register_recipe<recipes::threshold>("threshold");
    register_recipe<recipes::dgc_top_k>("dgc_top_k");
    register_recipe<recipes::adaptive_rand>("adaptive_rand");
    register_recipe<recipes::sign>("sign");
    register_recipe<recipes::onebit>("onebit");
    register_recipe<recipes::qsgd_rans>("qsgd_rans");
    register_recipe<pipeline<sparsify::identity, quantize::qsgd, encode::elias_delta>>(
        "qsgd+elias_delta");
    register_recipe<pipeline<sparsify::identity, quantize::random_dithering, encode::elias_gamma>>(
        "random_dithering");
    register_recipe<induced_topk_randk>("induced");
    register_recipe<pipeline<sparsify::top_k, quantize::identity, encode::sorted_index>>(
        "top_k+sorted_index");
#ifdef COMMPRESS_BENCH_ZSTD
    register_recipe<pipeline<sparsify::top_k, quantize::identity, encode::zstd<encode::bitpack>>>(
        "top_k+zstd");
#endif
    register_threads<recipes::fp16>("fp16");
    register_threads<recipes::qsgd>("qsgd");
    register_threads<recipes::terngrad>("terngrad");
    register_threads<recipes::uniform8_sr>("uniform8_sr");
    register_threads<recipes::top_k>("top_k");
    register_encoder<encode::bitpack, false>("bitpack(qsgd codes)");
    register_encoder<encode::elias_gamma, false>("elias_gamma(qsgd codes)");
    register_encoder<encode::elias_delta, false>("elias_delta(qsgd codes)");
    register_encoder<encode::rans, false>("rans(qsgd codes)");
    register_encoder<encode::bitpack, true>("bitpack(top_k)");
    register_encoder<encode::sorted_index, true>("sorted_index(top_k)");
    register_encoder<encode::elias_gamma, true>("elias_gamma(top_k)");
    return true;
}();

} // namespace
