// SPDX-License-Identifier: MIT
// Experiment 3 (OPERATORS.md B.1, B.2): DIANA against DCGD with rand-k and natural compression
// on heterogeneous data. DCGD's compression noise does not vanish at the solution (each
// grad f_i(x*) != 0), so it stalls at a floor; DIANA's shifts learn grad f_i(x*) and it
// converges. L2-regularised logistic regression on Fashion-MNIST T-shirt vs Shirt, rows sorted by
// label over 20 workers, independent compressors, DIANA's step 1 / ((1 + 6 omega / n) L) (the
// EF-BV code's) for both methods.
//
//   diana_vs_dcgd [--rounds 2000] [--workers 20] [--ratio 0.1] [--lambda 1] [--target 1e-8]
//                 [--threads 2] [--data-dir DIR | --libsvm FILE] [--out results/diana_vs_dcgd]
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "problems.hpp"
#include "runner.hpp"

using namespace experiments;

namespace {

using rand_k = cp::pipeline<cp::sparsify::rand_k, cp::quantize::identity, cp::encode::raw>;
using natural = cp::recipes::natural;

/// DIANA and DCGD with compressor C at DIANA's theoretical step.
template <class C, class Make, class Parts>
void compare(const std::string& name, Make make, Parts parts, std::size_t d, double L,
             const run_options& o, ex::csv_writer& csv, std::vector<curve>& out) {
    const double omega = make(0).omega(d);
    const double gamma = fb::diana_gamma(omega, parts.size(), L);
    std::fprintf(stderr, "%s: omega = %.6g, gamma = %.6g\n", name.c_str(), omega, gamma);
    out.push_back(run<fb::diana, C>("DIANA " + name, fb::diana{}, gamma, make, parts, o, csv));
    out.push_back(run<fb::dcgd, C>("DCGD " + name, fb::dcgd{}, gamma, make, parts, o, csv));
}

} // namespace

int main(int argc, char** argv) {
    command_line cl;
    cl.run.max_rounds = 2000;
    cl.workers = 20;
    double ratio = 0.1, lambda = 1;
    cl.target = 1e-8;
    cl.out = "results/diana_vs_dcgd";
    CLI::App app{"DIANA vs DCGD on heterogeneous data (OPERATORS.md B.1, B.2)"};
    cl.add_to(app);
    app.add_option("--ratio", ratio, "rand-k's k / d");
    app.add_option("--lambda", lambda, "L2 regularisation");
    CLI11_PARSE(app, argc, argv);
    auto& [o, workers, threads, target, data, out] = cl;
    try {
        auto p = split(data.load(), workers, lambda, cpx::regulariser::l2,
                       /*heterogeneous=*/true);
        const std::size_t d = p.dim();
        o.x0.assign(d, 0.0f);
        cl.prepare();
        auto csv = open_csv(cl.file("curves.csv"));
        std::vector<curve> curves;
        compare<rand_k>(
            "rand-k " + std::to_string(int(ratio * 100 + 0.5)) + "%",
            [ratio](std::uint32_t i) {
                return rand_k{{.ratio = ratio, .independent = true},
                              {},
                              {},
                              cp::seed{7},
                              cp::stream{.worker = i}};
            },
            std::span(p.parts), d, p.sm.L, o, csv, curves);
        compare<natural>(
            "natural",
            [](std::uint32_t i) {
                return natural{{}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
            },
            std::span(p.parts), d, p.sm.L, o, csv, curves);
        csv.close();
        auto js = summary(curves, target);
        js["experiment"] = "diana_vs_dcgd";
        js["L"] = p.sm.L;
        std::ofstream(cl.file("summary.json")) << js.dump(2) << '\n';
        plot(cl.file("diana_vs_dcgd.png"),
             "DIANA vs DCGD, heterogeneous Fashion-MNIST, " + std::to_string(workers) + " workers",
             curves);
        print_table(curves, target);
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "diana_vs_dcgd: %s\n", e.what());
        return 1;
    }
}
