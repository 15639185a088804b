// SPDX-License-Identifier: MIT
// Row splits across workers, the label sort behind the heterogeneous split and the shuffle behind
// the homogeneous one.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>

namespace ex = commpress::experiment;

TEST_CASE("split_rows deals contiguous equal chunks, the remainder to the last worker",
          "[experiment][split]") {
    SECTION("exact: 12000 rows, 20 workers") {
        const auto parts = ex::split_rows(12000, 20);
        REQUIRE(parts.size() == 20);
        for (std::size_t i = 0; i < 20; ++i)
            CHECK(parts[i] == ex::row_range{i * 600, 600});
    }
    SECTION("remainder: 10 rows, 3 workers -> 3, 3, 4") {
        const auto parts = ex::split_rows(10, 3);
        CHECK(parts == std::vector<ex::row_range>{{0, 3}, {3, 3}, {6, 4}});
    }
    SECTION("the chunks tile the rows") {
        for (std::size_t rows : {1u, 7u, 99u, 1000u})
            for (std::size_t n = 1; n <= rows && n <= 25; ++n) {
                const auto parts = ex::split_rows(rows, n);
                std::size_t next = 0;
                for (const auto& p : parts) {
                    CHECK(p.first == next);
                    CHECK(p.count >= rows / n);
                    next += p.count;
                }
                CHECK(next == rows);
            }
    }
    SECTION("impossible splits") {
        CHECK_THROWS_AS(ex::split_rows(10, 0), commpress::error);
        CHECK_THROWS_AS(ex::split_rows(3, 4), commpress::error);
    }
}

TEST_CASE("sort_rows_by_label puts +1 rows first, stably, moving features with labels",
          "[experiment][split]") {
    ex::dataset d;
    d.rows = 5;
    d.cols = 2;
    d.features = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
    d.labels = {-1, 1, -1, 1, 1};
    ex::sort_rows_by_label(d);
    CHECK(d.labels == std::vector<float>{1, 1, 1, -1, -1});
    CHECK(d.features == std::vector<float>{1, 1, 3, 3, 4, 4, 0, 0, 2, 2});
}

namespace {

/// Row j holds (j, 2j + 1) with label j % 3: every row can be recognised after a shuffle.
ex::dataset numbered(std::size_t rows) {
    ex::dataset d;
    d.rows = rows;
    d.cols = 2;
    for (std::size_t j = 0; j < rows; ++j) {
        d.features.push_back(static_cast<float>(j));
        d.features.push_back(static_cast<float>(2 * j + 1));
        d.labels.push_back(static_cast<float>(j % 3));
    }
    return d;
}

} // namespace

TEST_CASE("shuffle_rows permutes whole rows with their labels, deterministically",
          "[experiment][split]") {
    const auto original = numbered(100);
    auto a = original;
    ex::shuffle_rows(a, 5);
    REQUIRE(a.rows == 100);
    REQUIRE(a.features.size() == 200);
    REQUIRE(a.labels.size() == 100);
    std::vector<int> seen(100, 0);
    std::size_t moved = 0;
    for (std::size_t j = 0; j < 100; ++j) {
        const auto id = static_cast<std::size_t>(a.row(j)[0]);
        REQUIRE(id < 100);
        ++seen[id];
        CHECK(a.row(j)[1] == static_cast<float>(2 * id + 1)); // the row stayed whole
        CHECK(a.labels[j] == static_cast<float>(id % 3));     // with its label
        moved += id != j ? 1 : 0;
    }
    CHECK(std::count(seen.begin(), seen.end(), 1) == 100); // a permutation
    CHECK(moved > 50); // a uniform permutation of 100 fixes ~1 row on average

    auto b = original;
    ex::shuffle_rows(b, 5);
    CHECK(b.features == a.features);
    CHECK(b.labels == a.labels);
    auto c = original;
    ex::shuffle_rows(c, 6);
    CHECK(c.features != a.features);

    for (std::size_t rows : {0u, 1u}) {
        auto tiny = numbered(rows);
        ex::shuffle_rows(tiny, 1);
        CHECK(tiny.features == numbered(rows).features);
    }
}

TEST_CASE("shuffle_rows draws every order of 3 rows equally often", "[experiment][split]") {
    // 24000 shuffles, one per seed: each of the 6 orders is Binomial(24000, 1/6), mean 4000,
    // sd sqrt(24000 * 1/6 * 5/6) = 57.7; 5 sd = 289. An off-by-one Fisher-Yates (Sattolo's
    // algorithm) only makes the 2 cyclic orders; swapping with any of the 3 rows at every step
    // gives orders with probability 4/27 or 5/27: 3556 or 4444, 444 off.
    std::array<int, 6> counts{};
    for (std::uint64_t seed = 0; seed < 24000; ++seed) {
        auto d = numbered(3);
        ex::shuffle_rows(d, seed);
        const auto first = static_cast<int>(d.row(0)[0]), second = static_cast<int>(d.row(1)[0]);
        ++counts[static_cast<std::size_t>(first * 2 + (second > first ? second - 1 : second))];
    }
    for (int n : counts)
        CHECK(std::abs(n - 4000) <= 289);
}

TEST_CASE("a contiguous split is homogeneous after shuffle_rows, heterogeneous after the sort",
          "[experiment][split]") {
    // 2000 rows, half +1 and half -1, over 4 workers of 500 rows.
    ex::dataset d;
    d.rows = 2000;
    d.cols = 1;
    for (std::size_t j = 0; j < 2000; ++j) {
        d.features.push_back(static_cast<float>(j));
        d.labels.push_back(j % 2 == 0 ? 1.0f : -1.0f);
    }
    const auto parts = ex::split_rows(d.rows, 4);
    const auto positives = [&](const ex::row_range& r) {
        return std::count(d.labels.begin() + static_cast<std::ptrdiff_t>(r.first),
                          d.labels.begin() + static_cast<std::ptrdiff_t>(r.first + r.count), 1.0f);
    };
    ex::sort_rows_by_label(d);
    CHECK(positives(parts[0]) == 500);
    CHECK(positives(parts[3]) == 0);
    ex::shuffle_rows(d, 2024);
    // Each chunk's +1 count is hypergeometric: mean 250, sd sqrt(500 * 1/2 * 1/2 * 1500/1999)
    // = 9.7; 5 sd = 48.
    for (const auto& r : parts)
        CHECK(std::abs(static_cast<double>(positives(r)) - 250.0) <= 48);
}
