// SPDX-License-Identifier: MIT
// Reader for LIBSVM text data ("label index:value ..." per line, indices from 1), the format of
// the EF21 and EF-BV experiments' data sets.
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>

namespace commpress::experiment {

/// Reads a binary classification file into dense rows. Labels must take exactly two values; the
/// larger becomes +1, the smaller -1 (files use +1/-1, 1/0 or 2/1). Columns: the largest index
/// seen, or `cols` when nonzero (an index above it is an error). Throws error naming the line.
inline dataset read_libsvm(const std::string& path, std::size_t cols = 0) {
    std::ifstream in(path);
    if (!in)
        throw error("read_libsvm: cannot open " + path + ": " + std::strerror(errno));
    struct entry {
        std::size_t row, col;
        float value;
    };
    std::vector<entry> entries;
    std::vector<double> labels;
    std::size_t width = 0, line_no = 0;
    std::string line;
    const auto fail = [&](const std::string& what) {
        throw error("read_libsvm: " + path + ":" + std::to_string(line_no) + ": " + what);
    };
    while (std::getline(in, line)) {
        ++line_no;
        const char* p = line.data();
        const char* end = p + line.size();
        const auto skip_space = [&] {
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
                ++p;
        };
        skip_space();
        if (p == end || *p == '#')
            continue; // blank line or comment
        double label = 0;
        auto r = std::from_chars(*p == '+' ? p + 1 : p, end, label);
        if (r.ec != std::errc{})
            fail("expected a label");
        p = r.ptr;
        labels.push_back(label);
        std::size_t prev = 0;
        for (skip_space(); p < end; skip_space()) {
            std::size_t col = 0;
            r = std::from_chars(p, end, col);
            if (r.ec != std::errc{} || r.ptr == end || *r.ptr != ':' || col == 0)
                fail("expected index:value with an index >= 1");
            if (col <= prev)
                fail("indices must increase within a line (" + std::to_string(col) + " after " +
                     std::to_string(prev) + ")");
            float value = 0;
            const auto v = std::from_chars(r.ptr + 1, end, value);
            if (v.ec != std::errc{})
                fail("expected a number after \"" + std::to_string(col) + ":\"");
            p = v.ptr;
            if (cols != 0 && col > cols)
                fail("index " + std::to_string(col) + " exceeds the " + std::to_string(cols) +
                     " columns asked for");
            entries.push_back({labels.size() - 1, col - 1, value});
            width = std::max(width, col);
            prev = col;
        }
    }
    if (labels.empty())
        throw error("read_libsvm: " + path + " has no data");
    const auto [lo, hi] = std::minmax_element(labels.begin(), labels.end());
    for (const double l : labels)
        if (l != *lo && l != *hi)
            throw error("read_libsvm: " + path + " has more than two labels");
    if (*lo == *hi)
        throw error("read_libsvm: " + path + " has a single label");
    dataset data;
    data.rows = labels.size();
    data.cols = cols != 0 ? cols : width;
    data.features.assign(data.rows * data.cols, 0.0f);
    for (const entry& e : entries)
        data.features[e.row * data.cols + e.col] = e.value;
    for (const double l : labels)
        data.labels.push_back(l == *hi ? 1.0f : -1.0f);
    return data;
}

} // namespace commpress::experiment
