// SPDX-License-Identifier: MIT
// detail::bucket_divider, the multiply that replaces slot / bucket in decoders: exact against
// the division for every bucket size class and slots up to 2^32 - 1.
#include <cstddef>
#include <cstdint>
#include <random>

#include <catch2/catch.hpp>

#include <commpress/core/stage.hpp>

using commpress::detail::bucket_divider;

TEST_CASE("bucket_divider equals slot / bucket for slots below 2^32", "[core][stage]") {
    std::mt19937_64 rng(3);
    const std::uint64_t top = 0xffff'ffffu;
    std::size_t bad = 0, checked = 0;
    const auto check = [&](std::size_t bucket, std::uint64_t slot) {
        const bucket_divider div(bucket);
        const std::size_t want = bucket == 0 ? 0 : slot / bucket;
        bad += div(slot) != want;
        ++checked;
    };
    // Small, power-of-two, odd, just-below and above 2^32 buckets, against edge and random slots
    // (multiples of the bucket and their neighbours are where a rounding error would show).
    for (const std::size_t bucket :
         {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
          std::size_t{128}, std::size_t{1000}, std::size_t{4099}, std::size_t{65537},
          std::size_t{0x7fff'ffff}, std::size_t{0xffff'fffe}, std::size_t{0xffff'ffff},
          std::size_t{1} << 32, ~std::size_t{0}}) {
        for (const std::uint64_t slot : {std::uint64_t{0}, std::uint64_t{1}, top - 1, top})
            check(bucket, slot);
        for (int i = 0; i < 2000; ++i) {
            const std::uint64_t slot = rng() & top;
            check(bucket, slot);
            if (bucket > 1 && bucket <= top) {
                const std::uint64_t q = slot / bucket, edge = q * bucket;
                check(bucket, edge);
                if (edge > 0)
                    check(bucket, edge - 1);
            }
        }
    }
    for (int i = 0; i < 200000; ++i) // random buckets below 2^32
        check(static_cast<std::size_t>(rng() & top), rng() & top);
    INFO(checked << " pairs checked");
    CHECK(bad == 0);
}
