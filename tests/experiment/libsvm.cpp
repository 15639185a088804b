// SPDX-License-Identifier: MIT
// The LIBSVM text reader: heart_scale (Debian's liblinear-tools), label mapping, and malformed
// lines named by number.
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include <commpress/experiment/libsvm.hpp>

#include "experiment/temp_dir.hpp"

namespace ex = commpress::experiment;

namespace {
std::string write(const commpress::testing::temp_dir& dir, const std::string& text) {
    const auto path = (dir / "data.txt").string();
    std::ofstream(path) << text;
    return path;
}
} // namespace

TEST_CASE("read_libsvm reads heart_scale", "[experiment][libsvm]") {
    const auto data = ex::read_libsvm("/usr/share/doc/liblinear-tools/examples/heart_scale");
    REQUIRE(data.rows == 270);
    REQUIRE(data.cols == 13);
    std::size_t positive = 0;
    for (const float l : data.labels)
        positive += l == 1.0f;
    CHECK(positive == 120); // 120 "+1" lines, 150 "-1"
    // Line 1: "+1 1:0.708333 2:1 3:1 4:-0.320755 ... 10:-0.225806 12:1 13:-1" (11 is absent).
    CHECK(data.row(0)[0] == 0.708333f);
    CHECK(data.row(0)[3] == -0.320755f);
    CHECK(data.row(0)[10] == 0.0f);
    CHECK(data.row(0)[12] == -1.0f);
}

TEST_CASE("read_libsvm maps two labels to -1 and +1 and keeps columns", "[experiment][libsvm]") {
    commpress::testing::temp_dir dir("libsvm");
    const auto data = ex::read_libsvm(write(dir, "# a comment\n2 3:1.5\n\n1 1:-2 2:0.25\n"), 5);
    REQUIRE(data.rows == 2);
    REQUIRE(data.cols == 5);
    CHECK(data.labels == std::vector<float>{1.0f, -1.0f});
    CHECK(data.row(0)[2] == 1.5f);
    CHECK(data.row(1)[0] == -2.0f);
    CHECK(data.row(1)[1] == 0.25f);
}

TEST_CASE("read_libsvm names what is wrong and where", "[experiment][libsvm]") {
    commpress::testing::temp_dir dir("libsvm");
    using Catch::Contains;
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "1 1:2\nx 1:2\n")),
                      Contains(":2: expected a label"));
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "1 0:2\n")), Contains("index >= 1"));
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "1 2:1 2:3\n")), Contains("must increase"));
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "1 2:abc\n")), Contains("expected a number"));
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "1 9:1\n-1 1:1\n"), 4), Contains("exceeds"));
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "1 1:1\n2 1:1\n3 1:1\n")),
                      Contains("more than two labels"));
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "1 1:1\n")), Contains("single label"));
    CHECK_THROWS_WITH(ex::read_libsvm(write(dir, "\n")), Contains("no data"));
    CHECK_THROWS_WITH(ex::read_libsvm((dir / "missing.txt").string()), Contains("cannot open"));
}
