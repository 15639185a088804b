// SPDX-License-Identifier: MIT
// quantize::fp16 / bf16 (round to nearest even) and fp16_sr / bf16_sr (stochastic rounding)
// through the pipeline (OPERATORS.md A.12, A.13):
// - nearest even is bit exact against a reference written here from the IEEE 754 definition
//   (and, where the CPU has it, against the F16C instruction), including ties, the binary16
//   subnormal range, overflow at 65520, NaN, infinities and signed zeros;
// - nearest even contracts pointwise in the normal range: |fl(t) - t| <= u |t|, alpha = 1 - u^2;
// - stochastic rounding goes up with probability equal to the distance ratio, is unbiased and
//   has omega <= u^2 in the normal range, u = 2^-11 (fp16) or 2^-8 (bf16);
// - 16 bits per entry.
// Outside the normal range the constants do not hold; the tests at the end pin down what the
// header documents instead.
//
// Statistical tolerances: a Monte Carlo mean of N independent trials is checked within
// 6 sigma / sqrt(N) of its expectation (CLT; two-sided tail ~2e-9 per check), with sigma derived
// beside each check. Seeds are fixed.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define COMMPRESS_TEST_HAVE_F16C_TARGET 1
#endif

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

constexpr double u16 = 0x1p-11; // fp16 unit roundoff
constexpr double ub16 = 0x1p-8; // bf16 unit roundoff

// ---------------------------------------------------------------------------------------------
// Independent references.

/// Value of a binary16 code from the IEEE 754 definition (NaN for NaN codes).
double half_value(std::uint16_t h) {
    const int e = (h >> 10) & 0x1f;
    const int m = h & 0x3ff;
    double v;
    if (e == 0x1f)
        v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    else if (e == 0)
        v = std::ldexp(static_cast<double>(m), -24);
    else
        v = std::ldexp(static_cast<double>(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}

/// The non-negative finite binary16 values in code order (0x0000 .. 0x7bff), then 65536: the
/// next value if the exponent were unbounded, which is where IEEE rounding sends a value before
/// deciding it overflowed.
const std::vector<double>& half_grid() {
    static const std::vector<double> grid = [] {
        std::vector<double> g;
        for (std::uint32_t c = 0; c < 0x7c00; ++c)
            g.push_back(half_value(static_cast<std::uint16_t>(c)));
        g.push_back(65536.0);
        return g;
    }();
    return grid;
}

/// The binary16 neighbours of |t| (finite): lo <= |t| < hi as codes, hi possibly 0x7c00 (inf).
struct bracket {
    std::uint16_t lo, hi;
    double vlo, vhi;
};
bracket half_bracket(double a) {
    const auto& g = half_grid();
    const auto it = std::upper_bound(g.begin(), g.end(), a); // first value > a
    const auto hi = static_cast<std::uint16_t>(it - g.begin());
    return {static_cast<std::uint16_t>(hi - 1), hi, g[hi - 1u], hi < g.size() ? g[hi] : 65536.0};
}

/// Round to nearest, ties to even, binary32 -> binary16, from the definition: pick the nearer of
/// the two neighbours on the grid above, the even code on a tie; overflow to infinity when the
/// unbounded-exponent result is 65536 or more (so from 65520 up).
std::uint16_t ref_fp16(float f) {
    const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    if (std::isnan(f))
        return sign | 0x7e00;
    const double a = std::abs(static_cast<double>(f));
    if (a >= 65536.0) // also inf
        return sign | 0x7c00;
    const bracket b = half_bracket(a);
    if (b.vlo == a)
        return sign | b.lo;
    const double dlo = a - b.vlo, dhi = b.vhi - a; // exact: neighbours within a factor of 2
    const std::uint16_t code = dlo < dhi ? b.lo : dhi < dlo ? b.hi : ((b.lo & 1) ? b.hi : b.lo);
    return sign | code; // b.hi == 0x7c00 is the overflow to inf
}

/// Round to nearest even binary32 -> bfloat16 by distance: the neighbours are the truncation
/// and the next bfloat16 up (2^128 standing for the unbounded-exponent successor of the largest).
std::uint16_t ref_bf16(float f) {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
    if (std::isnan(f))
        return static_cast<std::uint16_t>((b >> 16) | 0x40u);
    const std::uint32_t a = b & 0x7fff'ffffu;
    const std::uint32_t lo = a & 0xffff'0000u, hi = lo + 0x1'0000u;
    if (lo == a)
        return static_cast<std::uint16_t>(sign | (lo >> 16));
    const double va = std::bit_cast<float>(a), vlo = std::bit_cast<float>(lo);
    const double vhi = hi == 0x7f80'0000u ? std::ldexp(1.0, 128) : std::bit_cast<float>(hi);
    const double dlo = va - vlo, dhi = vhi - va;
    const std::uint32_t pick = dlo < dhi ? lo : dhi < dlo ? hi : (((lo >> 16) & 1u) ? hi : lo);
    return static_cast<std::uint16_t>(sign | (pick >> 16));
}

float ref_bf16_value(std::uint16_t h) { return std::bit_cast<float>(std::uint32_t{h} << 16); }

float half_as_float(std::uint16_t h) {
    const double v = half_value(h);
    if (std::isnan(v))
        return std::numeric_limits<float>::quiet_NaN();
    const auto f = static_cast<float>(v); // exact: binary16 values are binary32 values
    return (h & 0x8000) && v == 0.0 ? -0.0f : f;
}

#ifdef COMMPRESS_TEST_HAVE_F16C_TARGET
__attribute__((target("f16c"))) std::uint16_t hw_fp16(float f) {
    return static_cast<std::uint16_t>(_cvtss_sh(f, 0)); // imm 0: round to nearest even
}
bool have_f16c() { return __builtin_cpu_supports("f16c"); }
#endif

// ---------------------------------------------------------------------------------------------
// Inputs.

/// Every finite binary16 value with both signs, every midpoint between neighbours (ties), one
/// binary32 ulp on either side of each midpoint, the overflow threshold, random bit patterns
/// (every class of binary32, NaNs included), log-uniform values over the binary16 range, and
/// signed zeros and infinities.
std::vector<float> fp16_cases() {
    std::vector<float> v;
    const auto& g = half_grid();
    for (std::size_t c = 0; c + 1 < g.size(); ++c) {
        const auto lo = static_cast<float>(g[c]);
        const auto mid = static_cast<float>((g[c] + g[c + 1]) / 2); // 12 bits: exact in binary32
        for (const float f : {lo, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f)}) {
            v.push_back(f);
            v.push_back(-f);
        }
    }
    std::mt19937_64 rng(16);
    for (int i = 0; i < 100000; ++i)
        v.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    std::uniform_real_distribution<double> expo(-27.0, 17.0);
    for (int i = 0; i < 100000; ++i) {
        const auto f = static_cast<float>(std::exp2(expo(rng)));
        v.push_back((rng() & 1) ? f : -f);
    }
    const float inf = std::numeric_limits<float>::infinity();
    for (const float f : {0.0f,
                          65504.0f,
                          65519.99f,
                          65520.0f,
                          65535.99f,
                          65536.0f,
                          1e10f,
                          std::numeric_limits<float>::max(),
                          inf,
                          0x1p-24f,
                          0x1p-25f,
                          std::nextafter(0x1p-25f, 1.0f),
                          0x1p-26f,
                          3 * 0x1p-26f,
                          0x1p-149f,
                          0x1p-14f,
                          std::nextafter(0x1p-14f, 0.0f),
                          1.0f + 0x1p-11f,
                          1.0f + 0x1p-11f + 0x1p-23f,
                          1.0f + 3 * 0x1p-11f}) {
        v.push_back(f);
        v.push_back(-f);
    }
    v.push_back(std::numeric_limits<float>::quiet_NaN());
    v.push_back(-std::numeric_limits<float>::quiet_NaN());
    v.push_back(std::bit_cast<float>(0x7f80'0001u)); // signalling NaN
    return v;
}

/// Random bit patterns, bfloat16 midpoints (ties) and their binary32 neighbours, and specials.
std::vector<float> bf16_cases() {
    std::vector<float> v;
    std::mt19937_64 rng(17);
    for (int i = 0; i < 100000; ++i)
        v.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    for (int i = 0; i < 50000; ++i) {
        const std::uint32_t mid = (static_cast<std::uint32_t>(rng()) & 0xffff'0000u) | 0x8000u;
        for (const std::uint32_t b : {mid, mid - 1, mid + 1})
            if ((b & 0x7fff'ffffu) < 0x7f80'0000u)
                v.push_back(std::bit_cast<float>(b));
    }
    const float inf = std::numeric_limits<float>::infinity();
    for (const std::uint32_t b :
         {0x0000'0000u, 0x7f7f'7fffu, 0x7f7f'8000u, 0x7f7f'8001u, 0x7f7f'ffffu, 0x7f80'0000u,
          0x0000'0001u, 0x0000'8000u, 0x0001'8000u, 0x0080'0000u, 0x3f80'8000u, 0x3f81'8000u,
          0x3f80'8001u, 0x7fc0'0000u, 0x7f80'0001u}) {
        v.push_back(std::bit_cast<float>(b));
        v.push_back(std::bit_cast<float>(b | 0x8000'0000u));
    }
    v.push_back(inf);
    return v;
}

template <class P>
std::vector<float> round_trip(P& p, const std::vector<float>& x) {
    const auto msg = p.compress(std::span<const float>(x));
    REQUIRE(msg.size() == message_header::size + 2 * x.size());
    std::vector<float> out(x.size(), -7.0f);
    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    return out;
}

std::string hex(float f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%08x", std::bit_cast<std::uint32_t>(f));
    return buf;
}

/// Mismatches between decoded values and the reference values (NaN matches any NaN).
struct mismatch_count {
    std::size_t count = 0;
    std::string first;
    void operator()(float in, float got, float want) {
        const bool ok = std::isnan(want) ? std::isnan(got)
                                         : std::bit_cast<std::uint32_t>(got) ==
                                               std::bit_cast<std::uint32_t>(want);
        if (!ok && count++ == 0)
            first = "input " + hex(in) + " (" + std::to_string(in) + "): got " + hex(got) +
                    ", expected " + hex(want);
    }
};

/// Neighbours of a finite t in the target format and the probability p of rounding up in
/// magnitude: t = lo + p (hi - lo), by the same definitions as the references above.
struct neighbours {
    double lo, hi, p;
};
neighbours fp16_neighbours(float t) {
    const double a = std::abs(static_cast<double>(t));
    const bracket b = half_bracket(a);
    return {b.vlo, b.vhi, b.vlo == a ? 0.0 : (a - b.vlo) / (b.vhi - b.vlo)};
}
neighbours bf16_neighbours(float t) {
    const std::uint32_t a = std::bit_cast<std::uint32_t>(t) & 0x7fff'ffffu;
    const std::uint32_t lo = a & 0xffff'0000u;
    const double vlo = std::bit_cast<float>(lo), va = std::bit_cast<float>(a);
    const double vhi = std::bit_cast<float>(lo + 0x1'0000u);
    return {vlo, vhi, vlo == va ? 0.0 : (va - vlo) / (vhi - vlo)};
}

bool fp16_normal(float t) { return std::abs(t) >= 0x1p-14f && std::abs(t) <= 65504.0f; }
bool bf16_normal(float t) {
    return std::abs(t) >= std::numeric_limits<float>::min() && std::abs(t) <= 0x1.fep127f;
}

} // namespace

static_assert(!recipes::fp16::unbiased && !has_omega<recipes::fp16> && has_alpha<recipes::fp16>);
static_assert(recipes::fp16_sr::unbiased && has_omega<recipes::fp16_sr>);
static_assert(recipes::bf16_sr::unbiased && has_omega<recipes::bf16_sr>);

TEST_CASE("the test's binary16 reference agrees with known values", "[quantize][half][reference]") {
    // Guards the reference itself, from values in IEEE 754 / common tables.
    CHECK(ref_fp16(1.0f) == 0x3c00);
    CHECK(ref_fp16(-2.0f) == 0xc000);
    CHECK(ref_fp16(65504.0f) == 0x7bff);
    CHECK(ref_fp16(65519.99f) == 0x7bff);
    CHECK(ref_fp16(65520.0f) == 0x7c00);
    CHECK(ref_fp16(0x1p-24f) == 0x0001);
    CHECK(ref_fp16(0x1p-25f) == 0x0000);        // tie between 0 and 2^-24: even is 0
    CHECK(ref_fp16(3 * 0x1p-25f) == 0x0002);    // tie between 1 and 2 (units of 2^-24): even is 2
    CHECK(ref_fp16(1.0f + 0x1p-11f) == 0x3c00); // tie: 0x3c00 is even
    CHECK(ref_fp16(1.0f + 3 * 0x1p-11f) == 0x3c02); // tie between 0x3c01 and 0x3c02
    CHECK(ref_fp16(0.1f) == 0x2e66);
    CHECK(ref_bf16(1.0f) == 0x3f80);
    CHECK(ref_bf16(std::bit_cast<float>(0x3f808000u)) == 0x3f80); // tie, even
    CHECK(ref_bf16(std::bit_cast<float>(0x3f818000u)) == 0x3f82); // tie, even
    CHECK(ref_bf16(std::numeric_limits<float>::max()) == 0x7f80);
#ifdef COMMPRESS_TEST_HAVE_F16C_TARGET
    if (have_f16c()) {
        // Hardware conversion (F16C, round to nearest even) on every non-NaN case.
        std::size_t bad = 0;
        std::string first;
        for (const float f : fp16_cases())
            if (!std::isnan(f) && hw_fp16(f) != ref_fp16(f) && bad++ == 0)
                first = hex(f);
        INFO("first disagreement with F16C at " << first);
        CHECK(bad == 0);
    }
#endif
}

TEST_CASE("fp16 nearest-even is bit exact: ties, subnormals, overflow, NaN, inf, signed zero",
          "[quantize][half][fp16][exact]") {
    const auto x = fp16_cases();
    recipes::fp16 p;
    const auto out = round_trip(p, x);
    mismatch_count m;
    for (std::size_t i = 0; i < x.size(); ++i)
        m(x[i], out[i], half_as_float(ref_fp16(x[i])));
    INFO(m.first);
    CHECK(m.count == 0);
    // The kernel's codes (not only the decoded values), NaN codes included: a quiet NaN.
    std::size_t bad_codes = 0;
    for (const float f : x) {
        const std::uint16_t got = kernels::to_binary16<kernels::rounding::nearest_even>(f);
        const std::uint16_t want = ref_fp16(f);
        if (std::isnan(f))
            bad_codes += (got & 0x7e00) != 0x7e00; // exponent all ones and the quiet bit
        else
            bad_codes += got != want;
    }
    CHECK(bad_codes == 0);
    // Every code decodes to its IEEE value.
    std::size_t bad_decode = 0;
    for (std::uint32_t c = 0; c < 0x10000; ++c) {
        const auto h = static_cast<std::uint16_t>(c);
        const float got = kernels::from_binary16(h), want = half_as_float(h);
        bad_decode += std::isnan(want)
                          ? !std::isnan(got)
                          : std::bit_cast<std::uint32_t>(got) != std::bit_cast<std::uint32_t>(want);
    }
    CHECK(bad_decode == 0);
}

TEST_CASE("bf16 nearest-even is bit exact: ties, overflow, subnormals, NaN, inf, signed zero",
          "[quantize][half][bf16][exact]") {
    const auto x = bf16_cases();
    recipes::bf16 p;
    const auto out = round_trip(p, x);
    mismatch_count m;
    for (std::size_t i = 0; i < x.size(); ++i)
        m(x[i], out[i], ref_bf16_value(ref_bf16(x[i])));
    INFO(m.first);
    CHECK(m.count == 0);
}

TEST_CASE("fp16 / bf16 nearest-even contract pointwise in the normal range, alpha = 1 - u^2",
          "[quantize][half][theory]") {
    recipes::fp16 p16;
    recipes::bf16 pb;
    CHECK(p16.alpha(10) == 1 - u16 * u16);
    CHECK(pb.alpha(10) == 1 - ub16 * ub16);
    // Pointwise |fl(t) - t| <= u |t| on every normal-range case. Exact in double: the difference
    // of two binary32 values within a factor of two is exact, and u |t| is a power-of-two scaling.
    auto pointwise = [](auto& p, const std::vector<float>& x, double u, auto normal) {
        const auto out = round_trip(p, x);
        std::size_t bad = 0, checked = 0;
        for (std::size_t i = 0; i < x.size(); ++i)
            if (normal(x[i])) {
                ++checked;
                bad += !(std::abs(static_cast<double>(out[i]) - x[i]) <= u * std::abs(x[i]));
            }
        CHECK(checked > x.size() / 4);
        CHECK(bad == 0);
    };
    pointwise(p16, fp16_cases(), u16, fp16_normal);
    pointwise(pb, bf16_cases(), ub16, bf16_normal);
    // ||fl(x) - x||^2 <= u^2 ||x||^2 on the shapes that lie in the normal range (the zero vector
    // trivially). Both sides are n-term double sums of exact squares: 2 n 2^-53 relative slack.
    for (const tv::shape s : {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian,
                              tv::shape::heavy_tailed, tv::shape::zero})
        for (const std::size_t n : {1u, 64u, 256u}) {
            CAPTURE(tv::name(s), n);
            const auto x = tv::make<float>(s, n, 300 + n);
            const double norm2 = tv::norm2(x), tol = 2.0 * static_cast<double>(n) * 0x1p-53;
            for (const bool bf : {false, true}) {
                CAPTURE(bf);
                std::vector<float> out = bf ? round_trip(pb, x) : round_trip(p16, x);
                const double u = bf ? ub16 : u16;
                double err = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    if (x[i] != 0.0f)
                        REQUIRE((bf ? bf16_normal(x[i]) : fp16_normal(x[i]))); // precondition
                    const double d = static_cast<double>(out[i]) - x[i];
                    err += d * d;
                }
                CHECK(err <= u * u * norm2 * (1 + tol));
                if (s == tv::shape::flat || s == tv::shape::one_hot || s == tv::shape::zero)
                    CHECK(err == 0.0); // +-1 and 3 are representable
            }
        }
}

TEST_CASE("stochastic rounding goes up with probability equal to the distance ratio",
          "[quantize][half][sr][exact]") {
    // Exhaustive over the random word: only its top s bits matter, s = the number of binary32
    // mantissa bits dropped (13 for normal fp16, 16 for bf16, more for fp16 subnormals). Over all
    // 2^s values the number that round up must be exactly p 2^s.
    SECTION("fp16_sr, all words") {
        for (const float t : {1.0f + 0x1p-11f, 1.0f + 0x1p-12f, 1.0f + 3 * 0x1p-12f,
                              -1.0f - 0x1p-12f, 1000.125f, 0.1f, -3.14159f, 65000.3f,
                              1.0f + 0x1p-23f, 2.0f, 5e-6f, -1.23e-5f, 0x1p-14f + 0x1p-30f}) {
            CAPTURE(t);
            const neighbours nb = fp16_neighbours(t);
            const int e = static_cast<int>((std::bit_cast<std::uint32_t>(t) >> 23) & 0xff);
            const double ulp32 = std::ldexp(1.0, std::max(e, 1) - 150);
            const int s = static_cast<int>(std::lround(std::log2((nb.hi - nb.lo) / ulp32)));
            REQUIRE(s >= 13);
            REQUIRE(s <= 20);
            std::size_t up = 0, other = 0;
            for (std::uint32_t j = 0; j < (1u << s); ++j) {
                const std::uint16_t h =
                    kernels::to_binary16<kernels::rounding::stochastic>(t, j << (32 - s));
                const double v = std::abs(half_value(h));
                up += v == nb.hi;
                other += v != nb.hi && v != nb.lo;
            }
            CHECK(other == 0);
            CHECK(static_cast<double>(up) == nb.p * std::ldexp(1.0, s));
        }
    }
    SECTION("bf16_sr, all words") {
        for (const float t :
             {1.0f + 0x1p-8f, 1.0f + 0x1p-9f, 3.0f + 3 * 0x1p-8f, -0.1f, 1e30f, -7e-39f, 1.0f}) {
            CAPTURE(t);
            const neighbours nb = bf16_neighbours(t);
            std::size_t up = 0, other = 0;
            for (std::uint32_t j = 0; j < (1u << 16); ++j) {
                const float v = std::abs(ref_bf16_value(
                    kernels::to_bfloat16<kernels::rounding::stochastic>(t, j << 16)));
                up += v == nb.hi;
                other += v != nb.hi && v != nb.lo;
            }
            CHECK(other == 0);
            CHECK(static_cast<double>(up) == nb.p * 65536.0);
        }
    }
    SECTION("through the pipeline: fresh draws per slot and per step") {
        // M = 4096 slots x 8 steps = 32768 draws of one value: the fraction rounded up is within
        // 6 sqrt(p (1 - p) / M) <= 0.017 of p. (1 + 2^-11 is the fp16 midpoint above 1, p = 1/2;
        // 1 + 2^-12 is a quarter of the way, p = 1/4.)
        struct row {
            bool bf;
            float t;
            double p;
        };
        for (const row r :
             {row{false, 1.0f + 0x1p-11f, 0.5}, row{false, 1.0f + 0x1p-12f, 0.25},
              row{false, 1.0f + 3 * 0x1p-12f, 0.75}, row{false, -1.0f - 0x1p-12f, 0.25},
              row{false, 1000.125f, 0.25}, row{false, 1.5f * 0x1p-24f, 0.5},
              row{false, 0.25f * 0x1p-24f, 0.25}, row{true, 1.0f + 0x1p-8f, 0.5},
              row{true, 1.0f + 0x1p-9f, 0.25}, row{true, 3.0f + 3 * 0x1p-8f, 0.75}}) {
            CAPTURE(r.bf, r.t, r.p);
            const neighbours nb = r.bf ? bf16_neighbours(r.t) : fp16_neighbours(r.t);
            REQUIRE(nb.p == r.p);
            const std::vector<float> x(4096, r.t);
            recipes::fp16_sr p16(sparsify::identity{}, quantize::fp16_sr{}, encode::raw{}, seed{5});
            recipes::bf16_sr pb(sparsify::identity{}, quantize::bf16_sr{}, encode::raw{}, seed{5});
            std::size_t up = 0, other = 0;
            for (int step = 0; step < 8; ++step) {
                const auto out = r.bf ? round_trip(pb, x) : round_trip(p16, x);
                for (const float v : out) {
                    const double a = std::abs(static_cast<double>(v));
                    up += a == nb.hi;
                    other += (a != nb.hi && a != nb.lo) || (std::signbit(v) != std::signbit(r.t));
                }
            }
            const double M = 4096.0 * 8;
            CHECK(other == 0);
            CHECK(std::abs(static_cast<double>(up) / M - r.p) <=
                  6 * std::sqrt(r.p * (1 - r.p) / M));
        }
    }
}

namespace {

/// Monte Carlo of a stochastic-rounding pipeline on x over N steps: checks E C(x) = x per
/// coordinate and the measured omega against the exact omega(x) = sum ulp_i^2 p_i (1 - p_i) /
/// ||x||^2, which the theory bounds by u^2 in the normal range. Returns the measured omega.
template <class P>
double check_sr_moments(P& p, const std::vector<float>& x, bool bf, std::size_t trials) {
    const std::size_t n = x.size();
    const double N = static_cast<double>(trials), norm2 = tv::norm2(x);
    std::vector<double> var(n), sum(n, 0.0);
    double exact_sq = 0, max_ulp2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const neighbours nb = bf ? bf16_neighbours(x[i]) : fp16_neighbours(x[i]);
        const double ulp = nb.hi - nb.lo;
        var[i] = ulp * ulp * nb.p * (1 - nb.p); // two-point law: lo + Bernoulli(p) ulp
        exact_sq += var[i];
        max_ulp2 = std::max(max_ulp2, ulp * ulp);
    }
    double sq_sum = 0, ipsum = 0;
    std::vector<std::byte> buf(p.max_message_size(n));
    std::vector<float> out(n);
    for (std::size_t t = 0; t < trials; ++t) {
        const std::size_t size = p.compress(std::span<const float>(x), std::span<std::byte>(buf));
        p.decompress(std::span<const std::byte>(buf.data(), size), std::span<float>(out));
        double sq = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double d = static_cast<double>(out[i]) - x[i]; // exact
            sq += d * d;
            sum[i] += out[i]; // exact: N <= 2^13 values of <= 24 significant bits
            ipsum += static_cast<double>(out[i]) * x[i];
        }
        sq_sum += sq;
    }
    // Unbiasedness per coordinate: 6 sqrt(Var C_i / N); values on the grid have Var 0, so their
    // mean must be exact.
    std::size_t bad = 0;
    std::string first;
    for (std::size_t i = 0; i < n; ++i) {
        const double mean = sum[i] / N;
        const double band = 6 * std::sqrt(var[i] / N) + 0x1p-52 * std::abs(mean);
        if (!(std::abs(mean - x[i]) <= band) && bad++ == 0)
            first = "coordinate " + std::to_string(i) + ": x = " + std::to_string(x[i]) +
                    ", mean = " + std::to_string(mean);
    }
    INFO(first);
    CHECK(bad == 0);
    // In aggregate: <C(x), x> has mean ||x||^2 and variance sum x_i^2 Var C_i (independent
    // coordinates); the N n-term double sum adds (N + n) 2^-52 relative.
    if (norm2 > 0) {
        double ip_var = 0;
        for (std::size_t i = 0; i < n; ++i)
            ip_var += static_cast<double>(x[i]) * x[i] * var[i];
        const double ip = ipsum / N / norm2;
        const double ip_band = 6 * std::sqrt(ip_var / N) / norm2 +
                               static_cast<double>(n + trials) * 0x1p-52 * (1 + ip);
        CAPTURE(ip, ip_band);
        CHECK(std::abs(ip - 1) <= ip_band);
    }
    // Mean squared error: a trial's E_t = sum_i T_i with independent T_i in [0, ulp_i^2), so
    // Var E_t <= sum E T_i^2 <= max ulp^2 * E E_t. Rounding: n- and N-term double sums,
    // (n + N) 2^-53 relative.
    const double measured_sq = sq_sum / N;
    const double band = 6 * std::sqrt(max_ulp2 * exact_sq / N) +
                        static_cast<double>(n + trials) * 0x1p-53 * measured_sq;
    CAPTURE(measured_sq, exact_sq, band);
    CHECK(std::abs(measured_sq - exact_sq) <= band);
    return norm2 > 0 ? measured_sq / norm2 : 0.0;
}

} // namespace

TEST_CASE("fp16_sr / bf16_sr are unbiased with omega <= u^2 in the normal range",
          "[quantize][half][sr][theory]") {
    recipes::fp16_sr p16(sparsify::identity{}, quantize::fp16_sr{}, encode::raw{}, seed{8});
    recipes::bf16_sr pb(sparsify::identity{}, quantize::bf16_sr{}, encode::raw{}, seed{8});
    CHECK(p16.omega(100) == u16 * u16);
    CHECK(pb.omega(100) == ub16 * ub16);
    const std::size_t trials = 2000;
    for (const tv::shape s : {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian,
                              tv::shape::heavy_tailed, tv::shape::zero})
        for (const bool bf : {false, true}) {
            CAPTURE(tv::name(s), bf);
            const std::size_t n = 256;
            const auto x = tv::make<float>(s, n, 400);
            const double u = bf ? ub16 : u16;
            double norm2 = tv::norm2(x), exact = 0, max_ulp2 = 0;
            for (const float t : x) {
                if (t != 0.0f)
                    REQUIRE((bf ? bf16_normal(t) : fp16_normal(t))); // precondition of A.12
                const neighbours nb = bf ? bf16_neighbours(t) : fp16_neighbours(t);
                exact += (nb.hi - nb.lo) * (nb.hi - nb.lo) * nb.p * (1 - nb.p);
                max_ulp2 = std::max(max_ulp2, (nb.hi - nb.lo) * (nb.hi - nb.lo));
            }
            const double measured = bf ? check_sr_moments(pb, x, true, trials)
                                       : check_sr_moments(p16, x, false, trials);
            if (norm2 == 0)
                continue;
            // The theory on this x (per entry ulp^2 p (1 - p) <= ulp^2 / 4 <= u^2 t^2) ...
            CHECK(exact / norm2 <= u * u);
            // ... and the measurement, with the band of check_sr_moments relative to ||x||^2.
            const double band =
                6 * std::sqrt(max_ulp2 * exact / static_cast<double>(trials)) / norm2 +
                static_cast<double>(n + trials) * 0x1p-53 * measured;
            CHECK(measured <= u * u + band);
            if (s == tv::shape::gaussian || s == tv::shape::heavy_tailed)
                CHECK(measured > 0.1 * u * u); // a real test: the values are not on the grid
        }
}

TEST_CASE("half casts outside the normal range behave as documented", "[quantize][half][edge]") {
    SECTION("binary32 subnormals: fp16 flushes to signed zero, so no alpha or omega holds") {
        const auto x = tv::make<float>(tv::shape::subnormal, 256, 9);
        recipes::fp16 p;
        recipes::fp16_sr q;
        for (int step = 0; step < 20; ++step)
            for (const auto& out : {round_trip(p, x), round_trip(q, x)}) {
                std::size_t bad = 0;
                for (std::size_t i = 0; i < x.size(); ++i)
                    bad += !(out[i] == 0.0f && std::signbit(out[i]) == std::signbit(x[i]));
                CHECK(bad == 0); // ||C(x) - x||^2 = ||x||^2: E C(x) = 0 != x for SR
            }
    }
    SECTION("binary32 subnormals: bf16 keeps binary32's range, absolute error <= 2^-134") {
        // bf16 subnormals are multiples of 2^-133: nearest even errs by at most half of that,
        // stochastic rounding is unbiased with per-entry variance <= (2^-133)^2 / 4. The relative
        // bound u^2 does not hold: these values have only a few significant bits.
        const auto x = tv::make<float>(tv::shape::subnormal, 256, 10);
        recipes::bf16 p;
        const auto out = round_trip(p, x);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < x.size(); ++i)
            bad += !(std::abs(static_cast<double>(out[i]) - x[i]) <= 0x1p-134);
        CHECK(bad == 0);
        recipes::bf16_sr q(sparsify::identity{}, quantize::bf16_sr{}, encode::raw{}, seed{3});
        const double measured = check_sr_moments(q, x, true, 2000);
        CHECK(measured > ub16 * ub16); // omega <= u^2 fails here, as documented
    }
    SECTION("binary16 subnormal range [2^-24, 2^-14): fp16_sr is unbiased, absolute variance") {
        // Spacing 2^-24: per-entry variance <= 2^-48 / 4; check_sr_moments checks the mean and
        // the exact mean squared error.
        auto x = tv::make<float>(tv::shape::gaussian, 256, 11);
        for (float& t : x)
            t *= 0x1p-17f;
        recipes::fp16_sr q(sparsify::identity{}, quantize::fp16_sr{}, encode::raw{}, seed{4});
        check_sr_moments(q, x, false, 2000);
    }
    SECTION("specials through each cast: signed zeros, infinities, NaN, overflow") {
        const float inf = std::numeric_limits<float>::infinity();
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const std::vector<float> x = {0.0f, -0.0f, inf, -inf, nan, 65504.0f, -65520.0f, 1e20f};
        recipes::fp16 a;
        recipes::fp16_sr b;
        recipes::bf16 c;
        recipes::bf16_sr d;
        const auto oa = round_trip(a, x), ob = round_trip(b, x);
        const auto oc = round_trip(c, x), od = round_trip(d, x);
        for (const auto* o : {&oa, &ob, &oc, &od}) {
            CHECK(std::bit_cast<std::uint32_t>((*o)[0]) == 0u);
            CHECK(std::bit_cast<std::uint32_t>((*o)[1]) == 0x8000'0000u);
            CHECK((*o)[2] == inf);
            CHECK((*o)[3] == -inf);
            CHECK(std::isnan((*o)[4]));
        }
        CHECK(oa[5] == 65504.0f);
        CHECK(ob[5] == 65504.0f); // on the grid: no randomness
        CHECK(oa[6] == -inf);     // 65520 is the overflow threshold
        CHECK(oa[7] == inf);
        CHECK(ob[7] == inf);
        CHECK(oc[7] == ref_bf16_value(ref_bf16(1e20f)));
    }
    SECTION("double input is first rounded to binary32 (documented)") {
        const std::vector<double> x = {1.0 + 0x1p-11 + 0x1p-40, 0.1, -65519.999, 3.0 * 0x1p-26};
        recipes::fp16 p;
        const auto msg = p.compress(std::span<const double>(x));
        std::vector<double> out(x.size());
        p.decompress(std::span<const std::byte>(msg), std::span<double>(out));
        for (std::size_t i = 0; i < x.size(); ++i) {
            CAPTURE(i);
            CHECK(out[i] == static_cast<double>(half_as_float(ref_fp16(static_cast<float>(x[i])))));
        }
        // Double rounding: 1 + 2^-11 + 2^-40 is above the midpoint, yet binary32 first rounds it
        // to the midpoint itself, which then ties to even (down).
        CHECK(out[0] == 1.0);
    }
}

TEST_CASE("half messages are the header plus 2n bytes", "[quantize][half][bits]") {
    for (const std::size_t n : {0u, 1u, 7u, 1000u}) {
        CAPTURE(n);
        const auto x = tv::make<float>(tv::shape::gaussian, n, 1);
        recipes::fp16 a;
        recipes::fp16_sr b;
        recipes::bf16 c;
        recipes::bf16_sr d;
        const std::size_t want = message_header::size + 2 * n;
        CHECK(a.max_message_size(n) == want);
        CHECK(a.compress(std::span<const float>(x)).size() == want);
        CHECK(b.compress(std::span<const float>(x)).size() == want);
        CHECK(c.compress(std::span<const float>(x)).size() == want);
        CHECK(d.compress(std::span<const float>(x)).size() == want);
        CHECK(round_trip(a, x).size() == n); // decodes, also when empty
        CHECK(round_trip(d, x).size() == n);
    }
}
