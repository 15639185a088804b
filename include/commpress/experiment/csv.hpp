// SPDX-License-Identifier: MIT
// A small CSV writer (RFC 4180 quoting, shortest round-trip numbers) for experiment records.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <commpress/core/error.hpp>

namespace commpress::experiment {

namespace detail {

/// Quotes a field only when it needs it (comma, quote or line break), doubling inner quotes.
inline void append_csv_field(std::string& line, std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
        line += s;
        return;
    }
    line += '"';
    for (char c : s) {
        if (c == '"')
            line += '"';
        line += c;
    }
    line += '"';
}

/// Shortest text that reads back to the same value (std::to_chars), so records lose nothing.
template <class T>
void append_csv_number(std::string& line, T v) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec == std::errc{})
        line.append(buf, end);
}

inline void append_csv_value(std::string& line, bool v) { line += v ? "true" : "false"; }
inline void append_csv_value(std::string& line, std::string_view v) { append_csv_field(line, v); }
inline void append_csv_value(std::string& line, const std::string& v) { append_csv_field(line, v); }
inline void append_csv_value(std::string& line, const char* v) { append_csv_field(line, v); }
template <class T>
requires(std::integral<T> || std::floating_point<T>) &&
    (!std::same_as<T, bool>)void append_csv_value(std::string& line, T v) {
    append_csv_number(line, v);
}
/// An absent value is an empty field (a metric not measured at this row).
template <class T>
void append_csv_value(std::string& line, const std::optional<T>& v) {
    if (v)
        append_csv_value(line, *v);
}

} // namespace detail

/// Writes a header line on construction, then one line per row(); checks the column count.
class csv_writer {
  public:
    csv_writer(const std::filesystem::path& file, std::initializer_list<std::string_view> columns)
        : name_(file.string()), columns_(columns.size()) {
        out_.open(file, std::ios::out | std::ios::trunc);
        if (!out_)
            throw error("csv: cannot open '" + name_ + "' for writing");
        std::string line;
        for (std::string_view c : columns) {
            if (!line.empty())
                line += ',';
            detail::append_csv_field(line, c);
        }
        write_line(line);
    }

    template <class... T>
    void row(const T&... values) {
        if (sizeof...(T) != columns_)
            throw error("csv: '" + name_ + "' has " + std::to_string(columns_) +
                        " columns, a row gave " + std::to_string(sizeof...(T)));
        line_.clear();
        bool first = true;
        ((first ? void(first = false) : void(line_ += ','),
          detail::append_csv_value(line_, values)),
         ...);
        write_line(line_);
    }

    /// Flushes and reports a failed write (a full disk, say) as an error rather than a short file.
    void close() {
        out_.close();
        if (out_.fail())
            throw error("csv: writing '" + name_ + "' failed");
    }

  private:
    void write_line(const std::string& line) {
        out_ << line << '\n';
        if (!out_)
            throw error("csv: writing '" + name_ + "' failed");
    }

    std::string name_;
    std::size_t columns_;
    std::ofstream out_;
    std::string line_; // reused between rows
};

} // namespace commpress::experiment
