// SPDX-License-Identifier: MIT
// libFuzzer target for the message decoders: decompress and decompress_add of every recipe must
// either succeed or throw decode_error, and a decode_error must leave the output untouched.
//
// Each input is used twice:
//  1. As a message, byte for byte, for every recipe at a few sizes n taken from the input. This
//     exercises the header parser. libFuzzer's comparison tracing may get past the magic,
//     fingerprint and CRC checks on its own; part 2 does not depend on that.
//  2. As a recipe of a valid message and of its corruption: the input picks a recipe, its
//     parameters, n and the values, the message is compressed, then flipped, overwritten,
//     truncated or extended at places the input chooses. The length field and the CRCs are
//     recomputed unless the input says not to, so the payload decoders see the damage.
// Any other exception, a crash, a sanitizer report, or one of the oracles below failing is a
// finding (abort()):
//  - a decode_error that modified the output buffer (compared byte for byte with a copy);
//  - an unmodified message that does not decode, or decodes into a buffer of the wrong size;
//  - decompress_add(acc, w) differing from acc + w * decompress(...) where both succeed, or only
//    one of the two succeeding on the same bytes.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <span>
#include <tuple>
#include <type_traits>
#include <vector>

#include <commpress/commpress.hpp>
#include <commpress/encode/zstd.hpp>

namespace {

using namespace commpress;

/// Reads the fuzzer's bytes front to back; reads past the end return zeros.
class input {
  public:
    input(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

    std::uint8_t u8() { return p_ < end_ ? *p_++ : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
    std::uint32_t u32() { return u16() | (std::uint32_t{u16()} << 16); }
    std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }

  private:
    const std::uint8_t* p_;
    const std::uint8_t* end_;
};

[[noreturn]] void finding(const char* recipe, const char* what, const char* detail = "") {
    std::fprintf(stderr, "fuzz_decode finding [%s]: %s %s\n", recipe, what, detail);
    std::abort();
}

std::uint64_t load_le(const std::byte* p, unsigned bytes) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i)
        v |= std::uint64_t{static_cast<std::uint8_t>(p[i])} << (8 * i);
    return v;
}

void store_le(std::byte* p, std::uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; ++i)
        p[i] = static_cast<std::byte>(v >> (8 * i));
}

template <class P>
constexpr bool is_induced = false;
template <class C1, class C2>
constexpr bool is_induced<induced<C1, C2>> = true;

template <class P>
constexpr bool is_chunked = false;
template <class C>
constexpr bool is_chunked<chunked<C>> = true;

/// Two threads for the chunked targets: errors then cross threads.
std::shared_ptr<thread_team> fuzz_team() {
    static const auto team = std::make_shared<thread_team>(2);
    return team;
}

/// Calls decompress or decompress_add. Returns true on success, false on decode_error, after
/// checking that a decode_error left `out` exactly as it was.
template <class P, class T>
bool decode(const char* recipe, P& p, std::span<const std::byte> msg, std::span<T> out, bool add,
            T weight) {
    const std::vector<T> before(out.begin(), out.end());
    try {
        if (add)
            p.decompress_add(msg, out, weight);
        else
            p.decompress(msg, out);
        return true;
    } catch (const decode_error&) {
        if (!out.empty() && std::memcmp(before.data(), out.data(), out.size_bytes()) != 0)
            finding(recipe, add ? "decompress_add threw decode_error after writing to acc"
                                : "decompress threw decode_error after writing to out");
        return false;
    } catch (const std::exception& e) {
        finding(recipe, "an exception other than decode_error:", e.what());
    } catch (...) {
        finding(recipe, "a non-std exception");
    }
}

/// An accumulator with finite, nonzero-or-+0 entries: then acc + w * 0 == acc bit for bit, so
/// decompress_add must match decompress followed by an add on every coordinate.
template <class T>
std::vector<T> accumulator(std::size_t n, std::uint8_t salt) {
    std::vector<T> acc(n);
    for (std::size_t i = 0; i < n; ++i)
        acc[i] = static_cast<T>(static_cast<int>((i + salt) % 9) - 4) * T(0.375);
    return acc;
}

template <class T>
bool same(T a, T b) {
    if (std::isnan(a) || std::isnan(b))
        return std::isnan(a) && std::isnan(b);
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// Decodes msg with both entry points into a buffer of n elements and cross-checks them.
/// Returns whether the message decoded.
template <class P, class T>
bool decode_both(const char* recipe, P& p, std::span<const std::byte> msg, std::size_t n, T weight,
                 std::uint8_t salt) {
    std::vector<T> out = accumulator<T>(n, static_cast<std::uint8_t>(salt + 1));
    const std::vector<T> acc0 = accumulator<T>(n, salt);
    std::vector<T> acc = acc0;
    const bool ok = decode(recipe, p, msg, std::span<T>(out), false, T{1});
    const bool ok_add = decode(recipe, p, msg, std::span<T>(acc), true, weight);
    if (ok != ok_add)
        finding(recipe, ok ? "decompress accepted what decompress_add rejected"
                           : "decompress_add accepted what decompress rejected");
    if (ok)
        for (std::size_t i = 0; i < n; ++i) {
            const T want = static_cast<T>(acc0[i] + weight * out[i]);
            // induced adds w C1 + w C2, one rounding more than w (C1 + C2): equal up to rounding.
            if constexpr (is_induced<P>) {
                if (std::isfinite(want) &&
                    !(std::abs(acc[i] - want) <= 1e-5 * (std::abs(want) + std::abs(out[i]))))
                    finding(recipe, "decompress_add differs from acc + weight * decompress");
            } else if (!same(acc[i], want)) {
                finding(recipe, "decompress_add != acc + weight * decompress");
            }
        }
    return ok;
}

// Every decoder under test: the recipes plus compositions that have no recipe of their own.
template <class P>
struct target {
    using type = P;
    const char* name;
};
using comp_k_fp32 = pipeline<sparsify::comp_k, quantize::identity, encode::bitpack>;
using mix_k_fp16 = pipeline<sparsify::mix_k, quantize::fp16, encode::elias_gamma>;
using perm_k_fp32 = pipeline<sparsify::perm_k, quantize::identity, encode::raw>;
using threshold_qsgd = pipeline<sparsify::threshold, quantize::qsgd, encode::elias_gamma>;
using induced_topk_randk = induced<recipes::top_k, recipes::rand_k>;
using threshold_rans = pipeline<sparsify::threshold, quantize::qsgd, encode::rans>;
using topk_sorted = pipeline<sparsify::top_k, quantize::identity, encode::sorted_index>;
using topk_zstd = pipeline<sparsify::top_k, quantize::identity, encode::zstd<encode::sorted_index>>;
using qsgd_zstd = pipeline<sparsify::identity, quantize::qsgd, encode::zstd<encode::elias_gamma>>;
using chunked_qsgd = chunked<recipes::qsgd>;
using chunked_top_k = chunked<recipes::top_k>;
const auto targets = std::make_tuple(
    target<recipes::fp32>{"fp32"}, target<recipes::fp16>{"fp16"}, target<recipes::bf16>{"bf16"},
    target<recipes::fp16_sr>{"fp16_sr"}, target<recipes::bf16_sr>{"bf16_sr"},
    target<recipes::top_k>{"top_k"}, target<recipes::rand_k>{"rand_k"},
    target<recipes::qsgd>{"qsgd"}, target<recipes::qsgd_packed>{"qsgd_packed"},
    target<recipes::scaled_sign>{"scaled_sign"}, target<recipes::topk_qsgd>{"topk_qsgd"},
    target<recipes::natural>{"natural"}, target<recipes::natural_dithering>{"natural_dithering"},
    target<recipes::terngrad>{"terngrad"}, target<recipes::uniform8>{"uniform8"},
    target<recipes::uniform8_sr>{"uniform8_sr"}, target<comp_k_fp32>{"comp_k"},
    target<mix_k_fp16>{"mix_k"}, target<perm_k_fp32>{"perm_k"},
    target<recipes::dgc_top_k>{"dgc_top_k"}, target<recipes::threshold>{"threshold"},
    target<threshold_qsgd>{"threshold_qsgd"}, target<recipes::adaptive_rand>{"adaptive_rand"},
    target<induced_topk_randk>{"induced"}, target<recipes::sign>{"sign"},
    target<recipes::onebit>{"onebit"}, target<recipes::qsgd_rans>{"qsgd_rans"},
    target<threshold_rans>{"threshold_rans"}, target<topk_sorted>{"topk_sorted"},
    target<topk_zstd>{"topk_zstd"}, target<qsgd_zstd>{"qsgd_zstd"},
    target<chunked_qsgd>{"chunked_qsgd"}, target<chunked_top_k>{"chunked_top_k"});

/// Chunks of 61 elements: the fuzzed sizes (up to 8192) make up to 135 chunks and a short one.
constexpr std::size_t fuzz_chunk = 61;

// ---- part 1: the input bytes as a message, for every recipe -------------------------------

/// The recipe with the parameters docs/benchmarks.md uses (k = 1%; 4 levels for qsgd_packed).
template <class P>
P bench_stages(message_options opts) {
    typename P::sparsifier_type sp{};
    if constexpr (requires { sp.lambda; })
        sp.lambda = 1.0;
    if constexpr (requires { sp.ratio; })
        sp.ratio = 0.01;
    typename P::quantizer_type qu{};
    if constexpr (requires { qu.levels; })
        qu.levels = std::is_same_v<P, recipes::qsgd_packed> ? 4 : 16;
    return P{sp, qu, {}, seed{}, stream{}, opts};
}

template <class P>
P bench_config(message_options opts) {
    if constexpr (is_induced<P>)
        return P{bench_config<recipes::top_k>(opts), bench_config<recipes::rand_k>(opts), opts};
    else if constexpr (is_chunked<P>)
        return P{bench_config<typename P::inner_type>(opts), fuzz_chunk, fuzz_team(), opts};
    else
        return bench_stages<P>(opts);
}

template <class P>
void raw_message(const char* recipe, std::span<const std::byte> msg, std::size_t n_field,
                 std::uint8_t pick) {
    // The decoder's message_options do not change decoding (the header carries the checksum
    // flag), so one configuration per call, alternating, covers both.
    P p = bench_config<P>({.payload_checksum = (pick & 1) != 0});
    for (std::size_t n : {n_field, static_cast<std::size_t>(pick % 33)})
        decode_both<P, float>(recipe, p, msg, n, (pick & 2) ? 0.5f : -2.0f, pick);
}

void raw_message_all(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> msg(reinterpret_cast<const std::byte*>(data), size);
    // n as the header states it (when small enough to allocate), else a size from the length.
    std::size_t n_field = size / 2;
    if (size >= 24) {
        const std::uint64_t h = load_le(msg.data() + 16, 8);
        if (h <= (1u << 16))
            n_field = static_cast<std::size_t>(h);
    }
    const std::uint8_t pick = size > 0 ? data[size - 1] : 0;
    std::apply(
        [&](auto... t) {
            (raw_message<typename decltype(t)::type>(t.name, msg, n_field, pick), ...);
        },
        targets);
}

// ---- part 2: valid messages, then corrupted ones ------------------------------------------

/// The recipe with parameters chosen by `v`: k ratio, rand_k independence, levels (up to the
/// quantizer's maximum) and bucket. v = 0 gives the parameters of docs/benchmarks.md (k = 1%, 16
/// levels, one norm).
template <class P>
P variant(std::uint8_t v, message_options opts, std::uint32_t worker);

template <class P>
P variant_stages(std::uint8_t v, message_options opts, std::uint32_t worker) {
    typename P::sparsifier_type sp{};
    if constexpr (requires { sp.lambda; }) {
        constexpr double lambdas[] = {0.0, 0.5, 1.0, 3.0};
        sp.lambda = lambdas[(v >> 2) & 3];
    }
    if constexpr (requires { sp.ratio; }) {
        constexpr double ratios[] = {0.01, 0.1, 0.5, 1.0};
        sp.ratio = ratios[v & 3];
        if (v & 4)
            sp.k = 3; // explicit k overrides the ratio
    }
    if constexpr (requires { sp.independent; })
        sp.independent = (v & 8) != 0;
    if constexpr (requires { sp.ratio_prime; })
        sp.ratio_prime = 1.0;                 // comp_k: k <= k' for every ratio above
    if constexpr (requires { sp.workers; }) { // perm_k: the worker id must own a block
        sp.workers = 8;
        worker %= 8;
    }
    typename P::quantizer_type qu{};
    if constexpr (requires { qu.levels; }) {
        using Q = typename P::quantizer_type;
        constexpr std::uint32_t levels[] = {16, 4, 1, Q::max_levels};
        constexpr std::size_t buckets[] = {0, 0, 7, 64};
        qu.levels = levels[(v >> 4) & 3];
        qu.bucket = buckets[(v >> 6) & 3];
    }
    if constexpr (
        requires { qu.bucket; } && !requires { qu.levels; }) { // onebit, uniform
        constexpr std::size_t buckets[] = {0, 1, 7, 64};
        qu.bucket = buckets[(v >> 6) & 3];
    }
    return P{sp, qu, {}, seed{0x5eed}, stream{.worker = worker, .tensor = 3}, opts};
}

template <class P>
P variant(std::uint8_t v, message_options opts, std::uint32_t worker) {
    if constexpr (is_induced<P>)
        return P{variant_stages<recipes::top_k>(v, opts, worker),
                 variant_stages<recipes::rand_k>(v, opts, worker), opts};
    else if constexpr (is_chunked<P>)
        return P{variant<typename P::inner_type>(v, opts, worker), fuzz_chunk, fuzz_team(), opts};
    else
        return variant_stages<P>(v, opts, worker);
}

/// splitmix64: a cheap generator for the fuzzed values (std::normal_distribution cost a sixth
/// of the run time).
struct splitmix {
    std::uint64_t s;
    std::uint64_t operator()() {
        std::uint64_t z = (s += 0x9e37'79b9'7f4a'7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11ebull;
        return z ^ (z >> 31);
    }
    /// Roughly N(0, 1): a sum of four uniforms on [-sqrt 3, sqrt 3], scaled to unit variance.
    double normal() {
        double t = 0;
        for (int i = 0; i < 4; ++i)
            t += static_cast<double>((*this)() >> 11) * 0x1p-53 - 0.5;
        return t * 1.7320508075688772;
    }
};

/// n values chosen by the input: Gaussian-like, the input's own bytes as floats, Gaussian-like
/// with special values planted, or small integers (many ties and zeros).
template <class T>
std::vector<T> values(input& in, std::size_t n, std::uint8_t mode) {
    std::vector<T> x(n);
    splitmix rng{in.u32()};
    for (T& v : x)
        v = static_cast<T>(rng.normal());
    if (mode == 1) {
        std::vector<float> words(1 + in.u8() % 16);
        for (float& w : words)
            w = std::bit_cast<float>(in.u32());
        for (std::size_t i = 0; i < n; ++i)
            x[i] = static_cast<T>(words[i % words.size()]);
    } else if (mode == 2 && n > 0) {
        constexpr float specials[] = {0.0f,       -0.0f,   INFINITY, -INFINITY, NAN,      0x1p-149f,
                                      -0x1p-130f, 3.4e38f, -3.4e38f, 65504.0f,  65520.0f, 1.0f};
        for (unsigned planted = in.u8() % 8; planted > 0; --planted) {
            const std::size_t at = in.u16() % n;
            x[at] = static_cast<T>(specials[in.u8() % std::size(specials)]);
        }
    } else if (mode == 3) {
        for (T& v : x)
            v = static_cast<T>(static_cast<int>(rng() % 5) - 2);
    }
    return x;
}

/// Corrupts msg as the input says, then (unless told not to) repairs the length field and the
/// CRCs so that the damage reaches the payload decoders. Returns whether msg changed.
bool corrupt(input& in, std::vector<std::byte>& msg) {
    const std::vector<std::byte> original = msg;
    for (unsigned ops = in.u8() % 9; ops > 0 && in.left() > 0; --ops) {
        const std::uint8_t kind = in.u8();
        const std::uint32_t pos = in.u32();
        const auto val = static_cast<std::byte>(in.u8());
        const std::size_t size = msg.size();
        const auto at = static_cast<std::ptrdiff_t>(size ? pos % size : 0);
        const std::size_t payload = size > message_header::size ? size - message_header::size : 0;
        switch (kind % 8) {
        case 0: // flip one bit
            if (size)
                msg[pos / 8 % size] ^= std::byte{1} << (pos % 8);
            break;
        case 1: // overwrite a byte anywhere
            if (size)
                msg[static_cast<std::size_t>(at)] = val;
            break;
        case 2: // overwrite a payload byte
            if (payload)
                msg[message_header::size + pos % payload] = val;
            break;
        case 3: // truncate
            msg.resize(size ? pos % size : 0);
            break;
        case 4: // append
            msg.push_back(val);
            break;
        case 5: // insert
            msg.insert(msg.begin() + at, val);
            break;
        case 6: // erase
            if (size)
                msg.erase(msg.begin() + at);
            break;
        case 7: // nudge a byte up or down by one: off-by-one lengths, counts, levels
            if (size) {
                std::byte& b = msg[static_cast<std::size_t>(at)];
                b = static_cast<std::byte>(static_cast<std::uint8_t>(b) + ((pos >> 31) ? 1 : 255));
            }
            break;
        }
    }
    const std::uint8_t skip = in.u8(); // bit set = leave that field as the corruption left it
    if (msg.size() >= message_header::size) {
        std::byte* h = msg.data();
        const std::span<const std::byte> all(msg);
        if (!(skip & 1))
            store_le(h + 24, msg.size() - message_header::size, 8);
        if (!(skip & 2) &&
            (static_cast<std::uint8_t>(h[6]) & message_header::flag_payload_checksum))
            store_le(h + 40, crc32c(all.subspan(message_header::size)), 4);
        if (!(skip & 4))
            store_le(h + 44, crc32c(all.first(44)), 4);
    }
    return msg != original;
}

template <class P, class T>
void corrupted_message(const char* recipe, input& in, std::uint8_t flags) {
    const message_options opts{.payload_checksum = (flags & 1) != 0};
    const std::uint8_t v = in.u8();
    const std::uint32_t worker = in.u8();
    std::size_t n = in.u16() % 257;
    if (flags & 8)
        n = in.u16() % 8193; // now and then a larger tensor
    P sender = variant<P>(v, opts, worker), receiver = variant<P>(v, opts, 0);
    sender.set_step(in.u32());

    std::vector<std::byte> msg;
    try {
        if (flags & 4) {
            const std::vector<double> x = values<double>(in, n, (flags >> 6) & 3);
            msg = sender.compress(std::span<const double>(x));
        } else {
            const std::vector<float> x = values<float>(in, n, (flags >> 6) & 3);
            msg = sender.compress(std::span<const float>(x));
        }
    } catch (const std::exception& e) {
        finding(recipe, "compress threw:", e.what());
    }
    if (msg.size() > sender.max_message_size(n))
        finding(recipe, "compress wrote more than max_message_size");

    constexpr T weights[] = {T(1), T(0.5), T(-2), T(3)};
    const T weight = weights[in.u8() % 4];
    const std::uint8_t salt = in.u8();
    const bool changed = corrupt(in, msg);
    const bool ok = decode_both<P, T>(recipe, receiver, msg, n, weight, salt);
    if (!changed && !ok)
        finding(recipe, "a valid message did not decode");
    if (!changed && (flags & 16)) { // the right bytes into a buffer of the wrong size
        const std::size_t wrong = (flags & 32) || n == 0 ? n + 1 : n - 1;
        if (decode_both<P, T>(recipe, receiver, msg, wrong, weight, salt))
            finding(recipe, "a message decoded into a buffer of the wrong size");
    }
}

template <class P>
void corrupted_message(const char* recipe, input& in) {
    const std::uint8_t flags = in.u8();
    if (flags & 2)
        corrupted_message<P, double>(recipe, in, flags);
    else
        corrupted_message<P, float>(recipe, in, flags);
}

void corrupted_message_any(input& in) {
    constexpr std::size_t count = std::tuple_size_v<std::remove_const_t<decltype(targets)>>;
    const std::size_t pick = in.u8() % count;
    std::size_t i = 0;
    std::apply(
        [&](auto... t) {
            ((i++ == pick ? corrupted_message<typename decltype(t)::type>(t.name, in) : void()),
             ...);
        },
        targets);
}

// ---- part 3: the low-rank operators ---------------------------------------------------

// A layout with a factored matrix, a bias and a matrix sent as it is.
const lowrank::layout fuzz_layout{{6, 5}, {1, 4}, {3, 3}};
constexpr std::size_t fuzz_layout_n = 30 + 4 + 9;

template <class C>
C lowrank_config(std::uint32_t worker) {
    if constexpr (std::is_same_v<C, lowrank::rank_r>)
        return C({.rank = 2}, fuzz_layout, seed{1}, stream{.worker = worker});
    else
        return C({.rank = 2, .oversampling = 2, .power_iterations = 1}, fuzz_layout, seed{1},
                 stream{.worker = worker});
}

// The input as a message, then a valid message corrupted as the input says. The wrong output
// size is a caller's error (invalid_parameter), so n is the layout's.
template <class C>
void lowrank_messages(const char* name, std::span<const std::byte> raw, input& in) {
    C receiver = lowrank_config<C>(0);
    decode_both<C, float>(name, receiver, raw, fuzz_layout_n, 0.5f, in.u8());
    C sender = lowrank_config<C>(in.u8() % 4);
    sender.set_step(in.u32());
    const std::vector<float> x = values<float>(in, fuzz_layout_n, in.u8() % 4);
    std::vector<std::byte> msg(sender.max_message_size(x.size()));
    try {
        msg.resize(sender.compress(std::span<const float>(x), std::span(msg)));
    } catch (const invalid_parameter&) { // non-finite values: refused before any message
        return;
    }
    const bool changed = corrupt(in, msg);
    if (!decode_both<C, float>(name, receiver, msg, fuzz_layout_n, -2.0f, in.u8()) && !changed)
        finding(name, "a valid message did not decode");
}

// PowerSGD's server and worker take the input as each of their incoming messages.
void power_sgd_messages(std::span<const std::byte> raw) {
    const lowrank::power_sgd c({.rank = 2}, fuzz_layout, seed{1});
    const auto expect_decode_error = [](auto&& f) {
        try {
            f();
        } catch (const decode_error&) {
        } catch (const std::exception& e) {
            finding("power_sgd", "an exception other than decode_error:", e.what());
        }
    };
    lowrank::power_sgd_server server(feedback::ef14{.gamma = 1}, c, fuzz_layout_n, 1);
    expect_decode_error([&] { server.receive(raw); });
    lowrank::power_sgd_worker worker(feedback::ef14{.gamma = 1}, c, fuzz_layout_n, 1);
    std::vector<float> grad(fuzz_layout_n, 0.25f);
    std::vector<std::byte> out(c.max_message_size());
    worker.step(grad, out);
    expect_decode_error([&] { worker.answer(raw, out); });
    expect_decode_error([&] { worker.receive(raw); });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    raw_message_all(data, size);
    input in(data, size);
    corrupted_message_any(in);
    const std::span<const std::byte> raw(reinterpret_cast<const std::byte*>(data), size);
    lowrank_messages<lowrank::rank_r>("rank_r", raw, in);
    lowrank_messages<lowrank::randomized_svd>("randomized_svd", raw, in);
    power_sgd_messages(raw);
    return 0;
}
