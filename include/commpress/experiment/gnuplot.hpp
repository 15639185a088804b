// SPDX-License-Identifier: MIT
// Line plots to PNG through gnuplot: writes a self-contained .gp script, then runs gnuplot on it.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <commpress/core/error.hpp>

namespace commpress::experiment {

/// One line of a plot: (x[i], y[i]) pairs and the key entry.
struct series {
    std::string title;
    std::vector<double> x;
    std::vector<double> y;
};

struct line_plot {
    std::string title;
    std::string x_label;
    std::string y_label;
    bool log_x = false;
    bool log_y = false;
    std::vector<series> lines;
};

namespace detail {

/// A gnuplot double-quoted string literal.
inline std::string gp_quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + '"';
}

/// A POSIX shell single-quoted word (for the path handed to std::system).
inline std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + '\'';
}

inline std::string gp_number(double v) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

/// The gnuplot script for `p`, data inlined as datablocks ($s0, $s1, ...) so the script alone
/// reproduces the figure. Points a log axis cannot show (<= 0, non-finite) are dropped here.
/// Empty when no series has a point to draw.
inline std::string gp_script(const std::filesystem::path& png, const line_plot& p) {
    // Ten colours that stay distinct in print; past ten the dash pattern changes instead.
    static constexpr const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                              "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                              "#bcbd22", "#17becf"};
    std::string s;
    s += "set terminal pngcairo size 900,560 font \"DejaVu Sans,10\"\n";
    s += "set termoption noenhanced\n"; // names like top_k must not turn into subscripts
    s += "set output " + gp_quote(png.string()) + "\n";
    s += "set title " + gp_quote(p.title) + "\n";
    s += "set xlabel " + gp_quote(p.x_label) + "\n";
    s += "set ylabel " + gp_quote(p.y_label) + "\n";
    s += "set grid\nset key outside right top\n";
    if (p.log_x)
        s += "set logscale x\n";
    if (p.log_y)
        s += "set logscale y\n";
    std::string plot_cmd;
    for (std::size_t i = 0; i < p.lines.size(); ++i) {
        const series& l = p.lines[i];
        std::string block;
        for (std::size_t k = 0; k < l.x.size() && k < l.y.size(); ++k) {
            const double x = l.x[k], y = l.y[k];
            if (!std::isfinite(x) || !std::isfinite(y) || (p.log_x && x <= 0) ||
                (p.log_y && y <= 0))
                continue;
            block += gp_number(x) + ' ' + gp_number(y) + '\n';
        }
        if (block.empty())
            continue; // gnuplot stops on a plot clause without points
        const std::string name = "$s" + std::to_string(i);
        s += name + " << EOD\n" + block + "EOD\n";
        plot_cmd += (plot_cmd.empty() ? "plot " : ", \\\n     ") + name +
                    " using 1:2 with lines lw 2 lc rgb \"" + colours[i % 10] + "\" dt " +
                    std::to_string(1 + (i / 10) % 5) + " title " + gp_quote(l.title);
    }
    return plot_cmd.empty() ? std::string() : s + plot_cmd + "\n";
}

} // namespace detail

/// Writes `png` with extension .gp beside `png`, then runs gnuplot on it to make `png`.
/// Returns false, after a line on stderr, when gnuplot is missing or fails: a missing plot
/// should not cost the caller the data it has just computed.
inline bool plot_png(const std::filesystem::path& png, const line_plot& p) {
    std::filesystem::path script = png;
    script.replace_extension(".gp");
    const std::string text = detail::gp_script(png, p);
    if (text.empty()) {
        std::fprintf(stderr, "gnuplot: no drawable points for %s; no plot written\n",
                     png.string().c_str());
        return false;
    }
    {
        std::ofstream out(script, std::ios::out | std::ios::trunc);
        out << text;
        if (!out)
            throw error("gnuplot: cannot write the script '" + script.string() + "'");
    }
    if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
        std::fprintf(stderr, "gnuplot not found: wrote %s but not %s (install gnuplot-nox)\n",
                     script.string().c_str(), png.string().c_str());
        return false;
    }
    const std::string cmd = "gnuplot " + detail::shell_quote(script.string());
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "gnuplot failed on %s; no plot written\n", script.string().c_str());
        return false;
    }
    return true;
}

} // namespace commpress::experiment
