// SPDX-License-Identifier: MIT
// Every encoder's max_bytes is nondecreasing in the entry count m: a pipeline whose sparsifier
// keeps a data-dependent count (threshold) sizes its buffer at the largest m, so a smaller m
// must never need more bytes.
#include <cstddef>

#include <catch2/catch.hpp>

#include <commpress/encode/bitpack.hpp>
#include <commpress/encode/elias_delta.hpp>
#include <commpress/encode/elias_gamma.hpp>
#include <commpress/encode/rans.hpp>
#include <commpress/encode/raw.hpp>
#include <commpress/encode/sorted_index.hpp>

namespace {

using namespace commpress;

template <class E>
void nondecreasing_in_m() {
    const E e{};
    for (const std::size_t n : {1u, 2u, 7u, 100u, 1000u, 4099u, 100000u})
        for (const unsigned b : {1u, 2u, 5u, 9u, 12u, 13u, 32u})
            for (const bool indices : {false, true})
                for (const bool zero : {false, true}) {
                    std::size_t prev = 0;
                    for (std::size_t m = 0; m <= n; m += n > 5000 ? 7 : 1) {
                        const std::size_t bytes = e.max_bytes({n, m, indices, b, zero});
                        if (bytes < prev) {
                            CAPTURE(E::name, n, b, indices, zero, m, bytes, prev);
                            FAIL("max_bytes decreased");
                        }
                        prev = bytes;
                    }
                }
}

} // namespace

TEST_CASE("max_bytes never decreases as m grows", "[encode][max_bytes]") {
    nondecreasing_in_m<encode::raw>();
    nondecreasing_in_m<encode::bitpack>();
    nondecreasing_in_m<encode::elias_gamma>();
    nondecreasing_in_m<encode::elias_delta>();
    nondecreasing_in_m<encode::sorted_index>();
    nondecreasing_in_m<encode::rans>();
}
