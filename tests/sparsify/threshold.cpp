// SPDX-License-Identifier: MIT
// sparsify::threshold through the pipeline (OPERATORS.md A.5): exactly the coordinates with
// |x_i| >= lambda survive, unchanged; the error is the energy of the dropped ones, <= n lambda^2;
// the message carries the data-dependent count and is exactly 4 + nnz (32 + ceil(log2 n)) bits
// with bitpack; a count above n is rejected.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/error.hpp>
#include <commpress/encode/bitpack.hpp>
#include <commpress/pipeline.hpp>
#include <commpress/quantize/identity.hpp>
#include <commpress/sparsify/threshold.hpp>

#include "sparsify/theory_mc.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using threshold_fp32 = pipeline<sparsify::threshold, quantize::identity, encode::bitpack>;

std::size_t bytes_for(std::size_t n, std::size_t nnz) {
    return message_header::size + 4 + (nnz * (32 + tv::ceil_log2(n)) + 7) / 8;
}

} // namespace

static_assert(threshold_fp32::variable_count && !threshold_fp32::unbiased);
static_assert(!has_alpha<threshold_fp32> && !has_omega<threshold_fp32>,
              "a hard threshold is in no contraction class (A.5)");

TEST_CASE("threshold keeps exactly |x_i| >= lambda and its error is at most n lambda^2",
          "[sparsify][threshold][theory]") {
    for (const tv::shape s : tv::all_shapes)
        for (const std::size_t n : {1u, 2u, 7u, 64u, 1000u, 4099u})
            for (const double lambda : {0.0, 1e-40, 0.3, 1.0, 2.5, 10.0}) {
                CAPTURE(tv::name(s), n, lambda);
                const auto x = tv::make<float>(s, n, 700 + n);
                threshold_fp32 p(sparsify::threshold{lambda});
                const auto msg = p.compress(std::span<const float>(x));
                std::vector<float> out(n, -7.0f);
                p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                std::size_t nnz = 0, wrong = 0;
                double err = 0, norm2 = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const double xi = x[i];
                    const bool keep = std::abs(xi) >= lambda;
                    nnz += keep;
                    // Kept values are bit-exact (fp32 identity), dropped ones exactly +0.
                    wrong += keep ? std::bit_cast<std::uint32_t>(out[i]) !=
                                        std::bit_cast<std::uint32_t>(x[i])
                                  : std::bit_cast<std::uint32_t>(out[i]) != 0u;
                    err += (out[i] - xi) * (out[i] - xi);
                    norm2 += xi * xi;
                }
                CHECK(wrong == 0);
                CHECK(msg.size() == bytes_for(n, nnz));
                CHECK(msg.size() <= p.max_message_size(n));
                // Dropped coordinates each add x_i^2 < lambda^2; double sums of nonnegative
                // terms are exact to a relative 2^-52 n, far below what could hide a wrong keep.
                CHECK(err <= std::min(norm2, p.sparsifier().absolute_error_bound(n)) * (1 + 1e-12));
            }
}

TEST_CASE("threshold keeps NaN and inf and drops what is below lambda", "[sparsify][threshold]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> x = {0.5f, nan, -inf, 0.0f, -2.0f, 1.0f};
    threshold_fp32 p(sparsify::threshold{1.0});
    const auto msg = p.compress(std::span<const float>(x));
    CHECK(msg.size() == bytes_for(x.size(), 4));
    std::vector<float> out(x.size());
    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    CHECK(out[0] == 0.0f);
    CHECK(std::isnan(out[1]));
    CHECK(out[2] == -inf);
    CHECK(out[3] == 0.0f);
    CHECK(out[4] == -2.0f);
    CHECK(out[5] == 1.0f);
}

TEST_CASE("threshold rejects bad lambdas and counts above n", "[sparsify][threshold][errors]") {
    for (const double bad :
         {-1.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()})
        CHECK_THROWS_AS(threshold_fp32(sparsify::threshold{bad}), invalid_parameter);
    const std::vector<float> x = {3.0f, 0.0f, -4.0f};
    threshold_fp32 p(sparsify::threshold{1.0}, {}, {}, {}, {}, message_options{false});
    auto msg = p.compress(std::span<const float>(x));
    // The count is the first 32 bits of the payload: 2 here; 4 > n = 3 must be rejected.
    CHECK(std::to_integer<int>(msg[message_header::size]) == 2);
    msg[message_header::size] = std::byte{4};
    std::vector<float> out(3, -7.0f);
    CHECK_THROWS_WITH(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)),
                      Catch::Contains("payload.count: 4"));
    CHECK(out == std::vector<float>(3, -7.0f));
}
