// SPDX-License-Identifier: MIT
// Experiment 2 (OPERATORS.md E.2): EF-BV against EF21 with independent comp-(k, k') and many
// workers, one training row each. EF-BV runs the scaled comp-(k, k') in C(eta, omega) with its
// lambda* and nu* (omega_av = omega / n: independent draws); EF21 needs a contraction and runs
// the unscaled comp-(k, k') (alpha = k / d) with its own theory step. Both at multiples of their
// theory steps. Logistic regression with the nonconvex regulariser (lambda = 0.1) on the first
// `workers` rows of Fashion-MNIST T-shirt vs Shirt, or with --synthetic D on `workers` seeded
// synthetic rows of D - 1 Gaussian features and a bias (10% of the labels flipped); x0 ~ N(0, I).
// k' defaults to d / 2 (392 on Fashion-MNIST; mushrooms in the paper: 56 of 112).
//
//   ef_bv_vs_ef21 [--rounds 1000] [--workers 1000] [--k 1] [--k-prime d/2] [--factors 1,16,256]
//                 [--target 10] [--threads 2] [--synthetic D | --data-dir DIR | --libsvm FILE]
//                 [--out results/ef_bv_vs_ef21]
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <commpress/experiment/synthetic.hpp>

#include "problems.hpp"
#include "runner.hpp"

using namespace experiments;

namespace {
using comp_k = cp::pipeline<cp::sparsify::comp_k, cp::quantize::identity, cp::encode::bitpack>;
using comp_k_unscaled =
    cp::pipeline<cp::sparsify::comp_k_unscaled, cp::quantize::identity, cp::encode::bitpack>;
} // namespace

int main(int argc, char** argv) {
    command_line cl;
    cl.run.max_rounds = 1000;
    cl.workers = 1000;
    std::size_t k = 1, k_prime = 0, synthetic = 0;
    std::vector<double> factors{1, 16, 256};
    double lambda = 0.1;
    cl.target = 10;
    cl.out = "results/ef_bv_vs_ef21";
    CLI::App app{"EF-BV vs EF21 with independent comp-(k, k') (OPERATORS.md E.2)"};
    cl.add_to(app);
    app.add_option("--k", k, "comp-(k, k')'s k");
    app.add_option("--k-prime", k_prime, "comp-(k, k')'s k' (0: d / 2)");
    app.add_option("--synthetic", synthetic, "d of seeded synthetic data instead of a data set");
    app.add_option("--factors", factors, "multiples of each method's theory step")->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    auto& [o, workers, threads, target, data, out] = cl;
    try {
        auto set = synthetic ? cpx::synthetic_classification(workers, synthetic, 1, 0.1, true)
                             : data.load();
        if (workers > set.rows)
            throw cp::error("more workers than rows");
        set.rows = workers; // the first rows, in file order: both classes mixed
        set.features.resize(workers * set.cols);
        set.labels.resize(workers);
        auto p = split(std::move(set), workers, lambda, cpx::regulariser::nonconvex, false);
        const std::size_t d = p.dim();
        o.x0 = gaussian_start(d, 1);
        if (k_prime == 0)
            k_prime = d / 2;
        cl.prepare();
        auto csv = open_csv(cl.file("curves.csv"));

        const cp::sparsify::comp_k sp{.k = k, .k_prime = k_prime};
        const auto make_bv = [&](std::uint32_t i) {
            return comp_k{sp, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const auto make_21 = [&](std::uint32_t i) {
            return comp_k_unscaled{
                {.k = k, .k_prime = k_prime}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const comp_k c = make_bv(0);
        const auto bv = fb::ef_bv_theory(c.eta(d), c.omega(d), c.omega(d) / double(workers));
        const double gamma_bv = bv.gamma(p.sm);
        const double gamma_21 = fb::ef21_gamma(make_21(0).alpha(d), p.sm);
        std::fprintf(stderr,
                     "comp-(%zu, %zu): eta = %.5g, omega = %.5g; EF-BV lambda* = %.5g, nu* = "
                     "%.5g, gamma = %.5g; EF21 alpha = %.5g, gamma = %.5g\n",
                     k, k_prime, c.eta(d), c.omega(d), bv.lambda, bv.nu, gamma_bv,
                     make_21(0).alpha(d), gamma_21);
        std::vector<curve> curves;
        for (const double f : factors) {
            const std::string tag = " x" + std::to_string(int(f));
            curves.push_back(run<fb::ef_bv, comp_k>("EF-BV" + tag, fb::ef_bv{}, f * gamma_bv,
                                                    make_bv, std::span(p.parts), o, csv));
            curves.push_back(run<fb::ef21, comp_k_unscaled>("EF21" + tag, fb::ef21{}, f * gamma_21,
                                                            make_21, std::span(p.parts), o, csv));
        }
        csv.close();
        auto js = summary(curves, target);
        js["experiment"] = "ef_bv_vs_ef21";
        js["workers"] = workers;
        js["ef_bv"] = {{"lambda", bv.lambda}, {"nu", bv.nu}, {"gamma", gamma_bv}};
        js["ef21_gamma"] = gamma_21;
        std::ofstream(cl.file("summary.json")) << js.dump(2) << '\n';
        plot(cl.file("ef_bv_vs_ef21.png"),
             "EF-BV vs EF21, comp-(" + std::to_string(k) + ", " + std::to_string(k_prime) + "), " +
                 std::to_string(workers) + " one-row workers",
             curves);
        print_table(curves, target);
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "ef_bv_vs_ef21: %s\n", e.what());
        return 1;
    }
}
