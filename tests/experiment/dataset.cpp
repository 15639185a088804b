// SPDX-License-Identifier: MIT
// Row splits across workers and the label sort behind the heterogeneous split.
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
