// SPDX-License-Identifier: MIT
// Experiment output: CSV records, gnuplot scripts and PNGs, the progress line.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/error.hpp>
#include <commpress/experiment/csv.hpp>
#include <commpress/experiment/gnuplot.hpp>
#include <commpress/experiment/progress.hpp>

#include "temp_dir.hpp"

namespace ex = commpress::experiment;
using Catch::Matchers::Contains;

namespace {

std::string slurp(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::size_t count_lines(const std::string& s) {
    std::size_t n = 0;
    for (char c : s)
        n += c == '\n' ? 1 : 0;
    return n;
}

} // namespace

TEST_CASE("csv_writer quotes only where needed and writes numbers that read back exactly",
          "[experiment][csv]") {
    commpress::testing::temp_dir dir("csv");
    const auto file = dir / "r.csv";
    {
        ex::csv_writer w(file, {"recipe", "iteration", "loss", "ok"});
        w.row("top_k(ratio=0.1) | qsgd", 3, 0.1, true);
        w.row(std::string("say \"hi\""), std::size_t{40}, 1.0f / 3.0f, false);
        w.row("a\nb", -7, std::optional<double>{}, std::optional<bool>{true});
        CHECK_THROWS_AS(w.row("too", "few"), commpress::error);
        w.close();
    }
    const std::string text = slurp(file);
    CHECK(text == "recipe,iteration,loss,ok\n"
                  "top_k(ratio=0.1) | qsgd,3,0.1,true\n"
                  "\"say \"\"hi\"\"\",40,0.33333334,false\n"
                  "\"a\nb\",-7,,true\n");
    CHECK(std::stof("0.33333334") == 1.0f / 3.0f);
    CHECK_THROWS_AS(ex::csv_writer(dir / "no" / "such" / "dir.csv", {"a"}), commpress::error);
}

TEST_CASE("gnuplot script: noenhanced, quoted titles, points a log axis cannot show dropped",
          "[experiment][gnuplot]") {
    ex::line_plot p{.title = "loss vs bits",
                    .x_label = "bits",
                    .y_label = "loss",
                    .log_x = true,
                    .log_y = false,
                    .lines = {{"top_k \"10%\"", {0, 1, 10}, {0.7, 0.6, 0.5}}, {"empty", {0}, {1}}}};
    const std::string s = ex::detail::gp_script("out.png", p);
    CHECK_THAT(s, Contains("set termoption noenhanced"));
    CHECK_THAT(s, Contains("pngcairo size 900,560"));
    CHECK_THAT(s, Contains("set logscale x"));
    CHECK_THAT(s, Contains("title \"top_k \\\"10%\\\"\""));
    CHECK_THAT(s, Contains("$s0 << EOD\n1 0.6\n10 0.5\nEOD\n")); // x = 0 dropped on the log axis
    CHECK(s.find("$s1") == std::string::npos); // a series with no drawable point is left out
    p.lines.resize(1);
    p.lines[0].x = {0};
    CHECK(ex::detail::gp_script("out.png", p).empty());
}

TEST_CASE("plot_png makes a PNG when gnuplot is installed", "[experiment][gnuplot]") {
    if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
        WARN("gnuplot not installed (apt-get install gnuplot-nox); skipped");
        return;
    }
    commpress::testing::temp_dir dir("gnuplot");
    const auto png = dir / "plot.png";
    const ex::line_plot p{
        .title = "t",
        .x_label = "x",
        .y_label = "y",
        .log_x = true,
        .log_y = true,
        .lines = {{"a_b", {1, 10, 100}, {1, 0.1, 0.01}}, {"c", {1, 100}, {2, 3}}}};
    REQUIRE(ex::plot_png(png, p));
    CHECK(std::filesystem::exists(dir / "plot.gp"));
    const std::string bytes = slurp(png);
    REQUIRE(bytes.size() > 8);
    CHECK(bytes.substr(1, 3) == "PNG");
}

TEST_CASE("progress prints one line per tenth when the stream is not a terminal",
          "[experiment][progress]") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    {
        ex::progress bar("fp32", 20, f);
        for (std::size_t i = 1; i <= 20; ++i)
            bar.update(i);
    }
    std::fflush(f);
    std::rewind(f);
    std::string text;
    char buf[256];
    while (std::fgets(buf, sizeof buf, f) != nullptr)
        text += buf;
    std::fclose(f);
    CHECK(count_lines(text) == 10);
    CHECK(text.find('\r') == std::string::npos);
    CHECK_THAT(text, Contains("fp32: iteration 2/20  10%"));
    CHECK_THAT(text, Contains("fp32: iteration 20/20 100%"));
}
