// SPDX-License-Identifier: MIT
// Reader for gzip-compressed IDX files (the MNIST / Fashion-MNIST format) and the Fashion-MNIST
// loaders: all ten classes, or two as a binary problem.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <zlib.h>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>

namespace commpress::experiment {

/// An IDX array of unsigned bytes: its dimensions (outermost first) and data in row-major order.
struct idx_array {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> data;
};

namespace detail {

inline std::string hex32(std::uint32_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "0x00000000";
    for (int i = 9; i >= 2; --i, v >>= 4)
        s[static_cast<std::size_t>(i)] = digits[v & 0xFu];
    return s;
}

/// Owns a gzFile. gzopen also reads uncompressed files transparently, which we allow.
class gz_reader {
  public:
    explicit gz_reader(const std::filesystem::path& file) : name_(file.string()) {
        errno = 0;
        f_ = gzopen(name_.c_str(), "rb");
        if (f_ == nullptr)
            throw error("idx: cannot open '" + name_ +
                        "': " + (errno != 0 ? std::strerror(errno) : "out of memory in zlib"));
        gzbuffer(f_, 1u << 17); // larger than the 8 KiB default: the image files are ~26 MB
    }
    gz_reader(const gz_reader&) = delete;
    gz_reader& operator=(const gz_reader&) = delete;
    ~gz_reader() { gzclose(f_); }

    /// Reads up to out.size() bytes; returns how many were read (fewer only at end of file).
    std::size_t read(std::uint8_t* out, std::size_t size) {
        std::size_t done = 0;
        while (done < size) {
            // gzread takes an unsigned length and returns int: read in chunks well below INT_MAX.
            const std::size_t want = std::min<std::size_t>(size - done, std::size_t{1} << 24);
            const int got = gzread(f_, out + done, static_cast<unsigned>(want));
            if (got < 0) {
                int code = 0;
                const char* msg = gzerror(f_, &code);
                throw error("idx: cannot read '" + name_ + "' as gzip data: " + msg);
            }
            if (got == 0)
                break;
            done += static_cast<std::size_t>(got);
        }
        return done;
    }

    const std::string& name() const noexcept { return name_; }

  private:
    std::string name_;
    gzFile f_ = nullptr;
};

inline std::uint32_t read_be32(gz_reader& in, const std::string& what) {
    std::uint8_t b[4];
    const std::size_t got = in.read(b, 4);
    if (got != 4)
        throw error("idx: '" + in.name() + "' is truncated: the header ends inside " + what + " (" +
                    std::to_string(got) + " of 4 bytes)");
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}

} // namespace detail

/// Reads an IDX file of unsigned bytes with `rank` dimensions (magic 0x0000 08 <rank>, big-endian
/// sizes). Throws commpress::error naming the file if it is missing, not IDX, truncated or too
/// long.
inline idx_array read_idx(const std::filesystem::path& file, std::uint8_t rank) {
    detail::gz_reader in(file);
    const std::uint32_t expected_magic = 0x0800u | rank; // 0x08 = unsigned byte elements
    const std::uint32_t magic = detail::read_be32(in, "the magic number");
    if (magic != expected_magic)
        throw error("idx: '" + in.name() + "' has magic number " + detail::hex32(magic) +
                    ", expected " + detail::hex32(expected_magic) + " (unsigned bytes, " +
                    std::to_string(rank) + " dimensions)");
    idx_array out;
    out.dims.resize(rank);
    std::size_t total = 1;
    // Cap the declared size (4 GiB) so a corrupt header fails with a message, not bad_alloc.
    constexpr std::size_t cap = std::size_t{1} << 32;
    for (std::uint8_t k = 0; k < rank; ++k) {
        out.dims[k] = detail::read_be32(in, "dimension " + std::to_string(k));
        if (out.dims[k] != 0 && total > cap / out.dims[k])
            throw error("idx: '" + in.name() +
                        "' declares more than 4 GiB of data; the header is corrupt");
        total *= out.dims[k];
    }
    out.data.resize(total);
    const std::size_t got = in.read(out.data.data(), total);
    if (got != total)
        throw error("idx: '" + in.name() + "' is truncated: the header declares " +
                    std::to_string(total) + " data bytes, the file holds " + std::to_string(got));
    std::uint8_t extra = 0;
    if (in.read(&extra, 1) != 0)
        throw error("idx: '" + in.name() + "' has bytes after the " + std::to_string(total) +
                    " data bytes its header declares");
    return out;
}

/// Which half of Fashion-MNIST to load.
enum class fashion_split { train, test };

namespace detail {

/// The images and labels of one half of Fashion-MNIST, checked to agree in count.
struct fashion_files {
    idx_array images, labels;
    std::size_t pixels = 0;  // per image, 28 * 28
    std::string labels_name; // for errors
};

inline fashion_files read_fashion_files(const std::filesystem::path& dir, fashion_split split) {
    const std::string prefix = split == fashion_split::train ? "train" : "t10k";
    const auto images_file = dir / (prefix + "-images-idx3-ubyte.gz");
    const auto labels_file = dir / (prefix + "-labels-idx1-ubyte.gz");
    fashion_files f{read_idx(images_file, 3), read_idx(labels_file, 1), 0, labels_file.string()};
    if (f.images.dims[0] != f.labels.dims[0])
        throw error("idx: '" + images_file.string() + "' holds " +
                    std::to_string(f.images.dims[0]) + " images but '" + labels_file.string() +
                    "' holds " + std::to_string(f.labels.dims[0]) + " labels");
    f.pixels = std::size_t{f.images.dims[1]} * f.images.dims[2];
    return f;
}

/// Appends image j as a row: pixels / 255, then a constant 1 bias column.
inline void append_image_row(dataset& out, const fashion_files& f, std::size_t j, float label) {
    const std::uint8_t* px = f.images.data.data() + j * f.pixels;
    for (std::size_t k = 0; k < f.pixels; ++k)
        out.features.push_back(static_cast<float>(px[k]) / 255.0f);
    out.features.push_back(1.0f); // bias column
    out.labels.push_back(label);
    ++out.rows;
}

} // namespace detail

/// Loads all ten classes of Fashion-MNIST for a multiclass problem (softmax_regression with
/// K = 10): features pixel/255 plus a constant 1 bias column (d = 28*28 + 1 = 785), label the
/// class index 0..9 as float, rows in file order. A label byte above 9 is an error.
inline dataset load_fashion_mnist(const std::filesystem::path& dir, fashion_split split) {
    const detail::fashion_files f = detail::read_fashion_files(dir, split);
    dataset out;
    out.cols = f.pixels + 1;
    out.features.reserve(f.labels.data.size() * out.cols);
    out.labels.reserve(f.labels.data.size());
    for (std::size_t j = 0; j < f.labels.data.size(); ++j) {
        const std::uint8_t c = f.labels.data[j];
        if (c > 9)
            throw error("idx: label " + std::to_string(c) + " of image " + std::to_string(j) +
                        " in '" + f.labels_name +
                        "' is not a Fashion-MNIST class (0 to 9); the file is corrupt");
        detail::append_image_row(out, f, j, static_cast<float>(c));
    }
    return out;
}

/// Loads two classes of Fashion-MNIST as a binary problem: features pixel/255 plus a constant
/// 1 bias column (d = 28*28 + 1 = 785), label +1 for `positive_class`, -1 for `negative_class`.
/// Defaults are T-shirt/top (0) vs Shirt (6), the hardest pair to tell apart.
inline dataset load_fashion_mnist_binary(const std::filesystem::path& dir, fashion_split split,
                                         std::uint8_t positive_class = 0,
                                         std::uint8_t negative_class = 6) {
    const detail::fashion_files f = detail::read_fashion_files(dir, split);
    dataset out;
    out.cols = f.pixels + 1;
    for (std::size_t j = 0; j < f.labels.data.size(); ++j) {
        const std::uint8_t c = f.labels.data[j];
        if (c == positive_class || c == negative_class)
            detail::append_image_row(out, f, j, c == positive_class ? 1.0f : -1.0f);
    }
    return out;
}

} // namespace commpress::experiment
