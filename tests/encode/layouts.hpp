// SPDX-License-Identifier: MIT
// Shared by the encoder tests: random code layouts and whole-stream encode/decode helpers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include <commpress/core/bitstream.hpp>
#include <commpress/core/stage.hpp>

namespace commpress::testing {

/// What a decoder hands its sink, one per entry.
struct entry {
    std::size_t slot;
    std::uint32_t index, code;
    bool operator==(const entry&) const = default;
};

struct sample {
    code_layout l;
    std::vector<std::uint32_t> indices, codes;
};

/// Random layout: ascending distinct indices below n, codes below 2^code_bits (widths 1..32) drawn
/// with a random bit length so that short and long variable-length codes both occur, about half
/// zero when zero_code_is_zero, one in eight the widest code; a quarter keep every coordinate.
inline sample random_layout(std::mt19937_64& rng) {
    sample s;
    s.l.n = rng() % 3 == 0 ? rng() % 8 : rng() % 5000;
    s.l.sends_indices = rng() & 1;
    s.l.zero_code_is_zero = rng() & 1;
    s.l.code_bits = 1 + static_cast<unsigned>(rng() % 32);
    s.l.m = s.l.n == 0 ? 0 : rng() % (s.l.n + 1);
    if (rng() % 4 == 0)
        s.l.m = s.l.n; // everything kept: gaps of 1
    if (s.l.sends_indices) {
        std::vector<std::uint32_t> all(s.l.n);
        std::iota(all.begin(), all.end(), std::uint32_t{0});
        std::shuffle(all.begin(), all.end(), rng);
        s.indices.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(s.l.m));
        std::sort(s.indices.begin(), s.indices.end());
    }
    const std::uint64_t mask = (std::uint64_t{1} << s.l.code_bits) - 1;
    for (std::size_t j = 0; j < s.l.m; ++j) {
        std::uint64_t c = rng() & (mask >> (rng() % s.l.code_bits));
        if (s.l.zero_code_is_zero && (rng() & 1))
            c = 0;
        if (rng() % 8 == 0)
            c = mask;
        s.codes.push_back(static_cast<std::uint32_t>(c));
    }
    return s;
}

/// Every entry of s, as a decoder that skips nothing reports them.
inline std::vector<entry> all_entries(const sample& s) {
    std::vector<entry> e;
    for (std::size_t j = 0; j < s.l.m; ++j)
        e.push_back(
            {j, s.l.sends_indices ? s.indices[j] : static_cast<std::uint32_t>(j), s.codes[j]});
    return e;
}

/// Decodes a whole stream and checks that it ends exactly.
template <class E>
std::vector<entry> decode_all(const E& enc, const code_layout& l,
                              std::span<const std::byte> bytes) {
    bit_reader r(bytes, "payload");
    std::vector<entry> got;
    enc.decode(l, r, [&](std::size_t slot, std::uint32_t index, std::uint32_t code) {
        got.push_back({slot, index, code});
    });
    r.expect_end();
    return got;
}

/// Encodes into a buffer of max_bytes and trims it to what was written.
template <class E>
std::vector<std::byte> encode_all(const E& enc, const code_layout& l,
                                  const std::vector<std::uint32_t>& indices,
                                  const std::vector<std::uint32_t>& codes) {
    std::vector<std::byte> buf(enc.max_bytes(l));
    bit_writer w(buf);
    enc.encode(l, indices, codes, w);
    buf.resize(w.finish());
    return buf;
}

} // namespace commpress::testing
