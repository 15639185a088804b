// SPDX-License-Identifier: MIT
// IDX reader: good files, every kind of bad file, the ten-class and binary loaders, and the real
// Fashion-MNIST headers.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <zlib.h>

#include <commpress/core/error.hpp>
#include <commpress/experiment/idx.hpp>

#include "temp_dir.hpp"

namespace ex = commpress::experiment;
using Catch::Matchers::Contains;

namespace {

void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> s));
}

/// An IDX byte image: magic, big-endian dims, then `data`.
std::vector<std::uint8_t> idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> out;
    put_be32(out, magic);
    for (std::uint32_t d : dims)
        put_be32(out, d);
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

void write_gz(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes) {
    gzFile f = gzopen(file.string().c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
            static_cast<int>(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
}

/// The text of the commpress::error that f() throws, or a marker that makes every Contains fail.
template <class F>
std::string error_text(F f) {
    try {
        f();
    } catch (const commpress::error& e) {
        return e.what();
    }
    return "<no commpress::error thrown>";
}

std::vector<std::uint8_t> iota_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return v;
}

} // namespace

TEST_CASE("read_idx reads dims and data of a good file", "[experiment][idx]") {
    commpress::testing::temp_dir dir("idx");
    const auto data = iota_bytes(2 * 3 * 4);
    write_gz(dir / "good.gz", idx_bytes(0x00000803, {2, 3, 4}, data));
    const auto a = ex::read_idx(dir / "good.gz", 3);
    CHECK(a.dims == std::vector<std::uint32_t>{2, 3, 4});
    CHECK(a.data == data);

    write_gz(dir / "labels.gz", idx_bytes(0x00000801, {5}, {0, 6, 3, 0, 6}));
    const auto l = ex::read_idx(dir / "labels.gz", 1);
    CHECK(l.dims == std::vector<std::uint32_t>{5});
    CHECK(l.data == std::vector<std::uint8_t>{0, 6, 3, 0, 6});
}

TEST_CASE("read_idx rejects bad files with a sentence naming the file and the problem",
          "[experiment][idx]") {
    commpress::testing::temp_dir dir("idx");
    const auto file = dir / "bad.gz";
    const std::string name = file.string();

    SECTION("missing file") {
        const auto missing = dir / "nope.gz";
        CHECK_THAT(error_text([&] { ex::read_idx(missing, 3); }), Contains("cannot open") &&
                                                                      Contains(missing.string()) &&
                                                                      Contains("No such file"));
    }
    SECTION("wrong magic: element type") {
        write_gz(file, idx_bytes(0x00000903, {1, 1, 1}, {0})); // 0x09 = signed byte
        CHECK_THAT(error_text([&] { ex::read_idx(file, 3); }),
                   Contains(name) && Contains("magic number 0x00000903") &&
                       Contains("expected 0x00000803"));
    }
    SECTION("wrong magic: labels file read as images") {
        write_gz(file, idx_bytes(0x00000801, {3}, {1, 2, 3}));
        CHECK_THAT(error_text([&] { ex::read_idx(file, 3); }),
                   Contains(name) && Contains("0x00000801"));
    }
    SECTION("truncated data") {
        auto bytes = idx_bytes(0x00000803, {2, 3, 4}, iota_bytes(24));
        bytes.resize(bytes.size() - 14); // 10 of 24 data bytes left
        write_gz(file, bytes);
        CHECK_THAT(error_text([&] { ex::read_idx(file, 3); }),
                   Contains(name) && Contains("truncated") && Contains("declares 24") &&
                       Contains("holds 10"));
    }
    SECTION("truncated header") {
        write_gz(file, {0, 0, 8, 3, 0, 0}); // magic, then half a dimension
        CHECK_THAT(error_text([&] { ex::read_idx(file, 3); }),
                   Contains(name) && Contains("truncated") && Contains("dimension 0") &&
                       Contains("2 of 4"));
    }
    SECTION("trailing bytes") {
        write_gz(file, idx_bytes(0x00000801, {2}, {1, 2, 3}));
        CHECK_THAT(error_text([&] { ex::read_idx(file, 1); }),
                   Contains(name) && Contains("bytes after the 2 data bytes"));
    }
    SECTION("gzip stream cut short") {
        write_gz(file, idx_bytes(0x00000803, {4, 16, 16}, iota_bytes(4 * 16 * 16)));
        const auto size = std::filesystem::file_size(file);
        std::filesystem::resize_file(file, size / 2); // the deflate stream ends mid-block
        // zlib 1.2.13 hands back what it could inflate and then reports end of file.
        CHECK_THAT(error_text([&] { ex::read_idx(file, 3); }),
                   Contains(name) && Contains("truncated"));
    }
    SECTION("corrupt gzip stream") {
        write_gz(file, idx_bytes(0x00000803, {4, 16, 16}, iota_bytes(4 * 16 * 16)));
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(12); // inside the deflate data, past the 10-byte gzip header
        const char junk[8] = {'\x7f', '\x7f', '\x7f', '\x7f', '\x7f', '\x7f', '\x7f', '\x7f'};
        f.write(junk, sizeof junk);
        f.close();
        CHECK_THAT(error_text([&] { ex::read_idx(file, 3); }),
                   Contains(name) && Contains("as gzip data"));
    }
}

TEST_CASE("load_fashion_mnist_binary keeps two classes, scales pixels and adds a bias",
          "[experiment][idx]") {
    commpress::testing::temp_dir dir("idx");
    // 5 images of 2x2 pixels, labels 0, 6, 3, 0, 6: rows 0, 1, 3, 4 are kept.
    const auto pixels = iota_bytes(5 * 4);
    write_gz(dir / "train-images-idx3-ubyte.gz", idx_bytes(0x00000803, {5, 2, 2}, pixels));
    write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes(0x00000801, {5}, {0, 6, 3, 0, 6}));
    const auto d = ex::load_fashion_mnist_binary(dir.path(), ex::fashion_split::train);
    REQUIRE(d.rows == 4);
    REQUIRE(d.cols == 5);
    CHECK(d.labels == std::vector<float>{1, -1, 1, -1});
    const std::array<std::size_t, 4> source{0, 1, 3, 4};
    for (std::size_t j = 0; j < 4; ++j) {
        for (std::size_t k = 0; k < 4; ++k)
            CHECK(d.row(j)[k] == static_cast<float>(pixels[source[j] * 4 + k]) / 255.0f);
        CHECK(d.row(j)[4] == 1.0f);
    }

    SECTION("image and label counts must agree") {
        write_gz(dir / "t10k-images-idx3-ubyte.gz",
                 idx_bytes(0x00000803, {3, 2, 2}, iota_bytes(12)));
        write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_bytes(0x00000801, {2}, {0, 6}));
        CHECK_THAT(
            error_text([&] { ex::load_fashion_mnist_binary(dir.path(), ex::fashion_split::test); }),
            Contains("3 images") && Contains("2 labels"));
    }
}

TEST_CASE("load_fashion_mnist keeps every class as its index, scales pixels and adds a bias",
          "[experiment][idx]") {
    commpress::testing::temp_dir dir("idx");
    // 6 images of 2x2 pixels with labels 0, 9, 3, 0, 6, 1: every row is kept, in file order.
    const auto pixels = iota_bytes(6 * 4);
    const std::vector<std::uint8_t> classes{0, 9, 3, 0, 6, 1};
    write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_bytes(0x00000803, {6, 2, 2}, pixels));
    write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_bytes(0x00000801, {6}, classes));
    const auto d = ex::load_fashion_mnist(dir.path(), ex::fashion_split::test);
    REQUIRE(d.rows == 6);
    REQUIRE(d.cols == 5);
    CHECK(d.labels == std::vector<float>{0, 9, 3, 0, 6, 1});
    for (std::size_t j = 0; j < 6; ++j) {
        for (std::size_t k = 0; k < 4; ++k)
            CHECK(d.row(j)[k] == static_cast<float>(pixels[j * 4 + k]) / 255.0f);
        CHECK(d.row(j)[4] == 1.0f);
    }
    // The binary loader reads through the same code: its rows are this loader's rows 0, 3, 4.
    const auto b = ex::load_fashion_mnist_binary(dir.path(), ex::fashion_split::test);
    REQUIRE(b.rows == 3);
    for (std::size_t k = 0; k < 5; ++k) {
        CHECK(b.row(0)[k] == d.row(0)[k]);
        CHECK(b.row(1)[k] == d.row(3)[k]);
        CHECK(b.row(2)[k] == d.row(4)[k]);
    }

    SECTION("a label byte above 9 is an error naming the image and the file") {
        write_gz(dir / "train-images-idx3-ubyte.gz",
                 idx_bytes(0x00000803, {2, 2, 2}, iota_bytes(8)));
        write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes(0x00000801, {2}, {4, 12}));
        CHECK_THAT(
            error_text([&] { ex::load_fashion_mnist(dir.path(), ex::fashion_split::train); }),
            Contains("label 12") && Contains("image 1") && Contains("train-labels-idx1-ubyte.gz"));
    }
    SECTION("image and label counts must agree") {
        write_gz(dir / "train-images-idx3-ubyte.gz",
                 idx_bytes(0x00000803, {3, 2, 2}, iota_bytes(12)));
        write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes(0x00000801, {2}, {0, 6}));
        CHECK_THAT(
            error_text([&] { ex::load_fashion_mnist(dir.path(), ex::fashion_split::train); }),
            Contains("3 images") && Contains("2 labels"));
    }
}

TEST_CASE("the installed Fashion-MNIST files have the documented headers and class counts",
          "[experiment][idx][data]") {
    const char* env = std::getenv("COMMPRESS_FASHION_MNIST_DIR");
    const std::filesystem::path dir = env != nullptr ? env : "/usr/share/datasets/fashion-mnist";
    if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz") ||
        !std::filesystem::exists(dir / "train-labels-idx1-ubyte.gz")) {
        WARN("Fashion-MNIST not found in " << dir
                                           << " (apt-get install dataset-fashion-mnist); skipped");
        return;
    }
    const auto images = ex::read_idx(dir / "train-images-idx3-ubyte.gz", 3);
    CHECK(images.dims == std::vector<std::uint32_t>{60000, 28, 28});
    const auto labels = ex::read_idx(dir / "train-labels-idx1-ubyte.gz", 1);
    CHECK(labels.dims == std::vector<std::uint32_t>{60000});
    std::array<std::size_t, 256> counts{};
    for (std::uint8_t c : labels.data)
        ++counts[c];
    for (int c = 0; c < 10; ++c) {
        INFO("class " << c);
        CHECK(counts[static_cast<std::size_t>(c)] == 6000);
    }
    const auto binary = ex::load_fashion_mnist_binary(dir, ex::fashion_split::train);
    CHECK(binary.rows == 12000);
    CHECK(binary.cols == 785);

    const auto all = ex::load_fashion_mnist(dir, ex::fashion_split::train);
    CHECK(all.rows == 60000);
    CHECK(all.cols == 785);
    REQUIRE(all.labels.size() == 60000);
    REQUIRE(all.features.size() == 60000u * 785u);
    std::array<std::size_t, 10> per_class{};
    for (std::size_t j = 0; j < all.rows; ++j) {
        const float y = all.labels[j];
        REQUIRE((y >= 0 && y <= 9 && y == static_cast<float>(static_cast<int>(y))));
        ++per_class[static_cast<std::size_t>(y)];
        REQUIRE(static_cast<float>(labels.data[j]) == y); // file order, class index as float
    }
    for (std::size_t c = 0; c < 10; ++c) {
        INFO("class " << c);
        CHECK(per_class[c] == 6000);
    }
    const auto [lo, hi] = std::minmax_element(all.features.begin(), all.features.end());
    CHECK(*lo == 0.0f);
    CHECK(*hi == 1.0f); // pixel 255 and the bias column
    if (std::filesystem::exists(dir / "t10k-images-idx3-ubyte.gz")) {
        const auto test = ex::load_fashion_mnist(dir, ex::fashion_split::test);
        CHECK(test.rows == 10000);
        CHECK(test.cols == 785);
    }
}
