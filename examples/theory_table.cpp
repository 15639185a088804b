// SPDX-License-Identifier: MIT
// Measures every operator's class constant by Monte Carlo and prints it beside the bound the
// library states: the table of docs/operators.md and of the closing note.
//
// For each operator and each test vector x (flat, one-hot, Gaussian, heavy-tailed; n entries)
// it compresses x `trials` times with fresh randomness and records e = ||C(x) - x||^2 / ||x||^2.
// - U(omega):      omega_hat = max over x of mean e; bound omega(n).
// - B(alpha):      alpha_hat = min over x of 1 - mean e; bound alpha(n).
// - C(eta, omega): eta_hat = max over x of ||mean C(x) - x|| / ||x||, omega_hat = max over x
//                  of mean ||C(x) - mean C(x)||^2 / ||x||^2; bounds eta(n), omega(n).
// - no class:      threshold reports max ||C(x) - x||^2 / (n lambda^2) (<= 1), sign nothing.
// A measured value may exceed its bound only by 6 standard errors of its mean (CLT, two-sided
// ~2e-9 per check) plus 1e-6 for binary32 rounding; otherwise the row is marked and the program
// exits with status 1, so ctest runs it as a test.
//
//   theory_table [--n 1000] [--trials 400] [--json results/theory.json]
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <commpress/commpress.hpp>
#include <commpress/experiment/progress.hpp>
#include <commpress/recipes.hpp>

#include "../tests/support/vectors.hpp"

namespace cp = commpress;
namespace tv = commpress::testing;

namespace {

struct row {
    std::string name, cls, bound, measured;
    double bits_per_element = 0;
    bool ok = true;
};

struct stats {
    double mean_e = 0, se_e = 0;         // mean of e and its standard error
    double eta = 0, var = 0, se_var = 0; // ||mean C - x|| / ||x||, mean ||C - mean C||^2 / ||x||^2
    double bits = 0;                     // payload bits per element
};

template <class P>
stats measure(P& p, const std::vector<float>& x, std::size_t trials) {
    const std::size_t n = x.size();
    double xx = 0;
    for (float v : x)
        xx += double{v} * v;
    std::vector<float> out(n);
    std::vector<std::vector<float>> outs(trials, std::vector<float>(n));
    std::vector<double> sum(n, 0.0), e(trials);
    stats s;
    for (std::size_t t = 0; t < trials; ++t) {
        const auto msg = p.compress(std::span<const float>(x));
        s.bits += 8.0 * static_cast<double>(msg.size() - cp::message_header::size);
        p.decompress(std::span<const std::byte>(msg), std::span<float>(outs[t]));
        double d = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double c = outs[t][i];
            sum[i] += c;
            d += (c - x[i]) * (c - x[i]);
        }
        e[t] = d / xx;
    }
    const double N = static_cast<double>(trials);
    s.bits /= N * static_cast<double>(n);
    double gap = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sum[i] /= N;
        gap += (sum[i] - x[i]) * (sum[i] - x[i]);
    }
    s.eta = std::sqrt(gap / xx);
    std::vector<double> v(trials);
    for (std::size_t t = 0; t < trials; ++t) {
        double d = 0;
        for (std::size_t i = 0; i < n; ++i)
            d += (outs[t][i] - sum[i]) * (outs[t][i] - sum[i]);
        v[t] = d / xx;
    }
    const auto mean_se = [N](const std::vector<double>& a, double& mean, double& se) {
        double m = 0, m2 = 0;
        for (double z : a) {
            m += z;
            m2 += z * z;
        }
        mean = m / N;
        se = std::sqrt(std::max(0.0, m2 / N - mean * mean) / N);
    };
    mean_se(e, s.mean_e, s.se_e);
    mean_se(v, s.var, s.se_var);
    // The empirical variance around the empirical mean is biased low by a factor (N-1)/N.
    s.var *= N / (N - 1);
    return s;
}

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v);
    return b;
}

constexpr tv::shape shapes[] = {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian,
                                tv::shape::heavy_tailed};

// eta_hat carries the noise of the empirical mean: E||mean - E C||^2 <= omega ||x||^2 / N, so
// (Markov) ||mean - E C|| <= 5 sqrt(omega / N) ||x|| with probability >= 1 - 1/25 per vector.
template <class P>
bool eta_omega_ok(const P& p, std::size_t n, std::size_t trials, double eta, double var,
                  double var_se, double slack) {
    return eta <= p.eta(n) + std::sqrt(p.omega(n) * 25 / static_cast<double>(trials)) + slack &&
           var <= p.omega(n) + 6 * var_se + slack;
}

template <class P>
row evaluate(const std::string& name, P p, std::size_t n, std::size_t trials) {
    row r;
    r.name = name;
    constexpr double slack = 1e-6; // binary32 rounding of the decoded values
    double worst_e = 0, worst_se = 0, best_alpha = 2, alpha_se = 0, eta = 0, var = 0, var_se = 0,
           bits = 0;
    for (const tv::shape sh : shapes) {
        const auto x = tv::make<float>(sh, n, 2024);
        const stats s = measure(p, x, trials);
        bits = std::max(bits, s.bits);
        if (s.mean_e > worst_e)
            worst_e = s.mean_e, worst_se = s.se_e;
        if (1 - s.mean_e < best_alpha)
            best_alpha = 1 - s.mean_e, alpha_se = s.se_e;
        eta = std::max(eta, s.eta);
        if (s.var > var)
            var = s.var, var_se = s.se_var;
    }
    r.bits_per_element = bits;
    if constexpr (P::unbiased && cp::has_omega<P>) {
        r.cls = "U(omega)";
        r.bound = "omega = " + fmt(p.omega(n));
        r.measured = "omega = " + fmt(worst_e) + " ± " + fmt(worst_se);
        r.ok = worst_e <= p.omega(n) + 6 * worst_se + slack;
    } else if constexpr (cp::has_alpha<P>) {
        r.cls = "B(alpha)";
        r.bound = "alpha = " + fmt(p.alpha(n));
        r.measured = "alpha = " + fmt(best_alpha) + " ± " + fmt(alpha_se);
        r.ok = best_alpha >= p.alpha(n) - 6 * alpha_se - slack;
        if constexpr (cp::has_eta<P>) { // also in C(eta, omega): report and check both
            r.cls += ", C(eta, omega)";
            r.bound += "; eta = " + fmt(p.eta(n)) + ", omega = " + fmt(p.omega(n));
            r.measured += "; eta = " + fmt(eta) + ", omega = " + fmt(var) + " ± " + fmt(var_se);
            r.ok = r.ok && eta_omega_ok(p, n, trials, eta, var, var_se, slack);
        }
    } else if constexpr (cp::has_eta<P>) {
        r.cls = "C(eta, omega)";
        r.bound = "eta = " + fmt(p.eta(n)) + ", omega = " + fmt(p.omega(n));
        r.measured = "eta = " + fmt(eta) + ", omega = " + fmt(var) + " ± " + fmt(var_se);
        r.ok = eta_omega_ok(p, n, trials, eta, var, var_se, slack);
    } else if constexpr (requires { p.sparsifier().absolute_error_bound(n); }) {
        r.cls = "absolute";
        double worst = 0;
        for (const tv::shape sh : shapes) {
            const auto x = tv::make<float>(sh, n, 2024);
            double xx = 0;
            for (float v : x)
                xx += double{v} * v;
            worst = std::max(worst,
                             measure(p, x, 1).mean_e * xx / p.sparsifier().absolute_error_bound(n));
        }
        r.bound = "||C(x) - x||^2 / (n lambda^2) <= 1";
        r.measured = fmt(worst);
        r.ok = worst <= 1 + slack;
    } else {
        r.cls = "none";
        r.bound = "-";
        r.measured = "max e = " + fmt(worst_e);
    }
    return r;
}

template <class P>
P with(typename P::sparsifier_type s = {}, typename P::quantizer_type q = {}) {
    return P{s, q, {}, cp::seed{7}};
}

} // namespace

int main(int argc, char** argv) {
    std::size_t n = 1000, trials = 400;
    std::string json_path;
    CLI::App app{"Measured class constants of every commpress operator"};
    app.add_option("--n", n, "vector length")->check(CLI::Range(2, 1 << 20));
    app.add_option("--trials", trials, "messages per vector")->check(CLI::Range(2, 100000));
    app.add_option("--json", json_path, "also write the table as JSON to this file");
    CLI11_PARSE(app, argc, argv);

    namespace s = cp::sparsify;
    namespace q = cp::quantize;
    namespace e = cp::encode;
    const s::top_k top10{.ratio = 0.1};
    std::vector<row> rows;
    cp::experiment::progress bar("theory table", 31);
    const auto add = [&](row r) {
        rows.push_back(std::move(r));
        bar.update(rows.size());
    };
    add(evaluate("fp32", cp::recipes::fp32{}, n, trials));
    add(evaluate("fp16", cp::recipes::fp16{}, n, trials));
    add(evaluate("bf16", cp::recipes::bf16{}, n, trials));
    add(evaluate("fp16_sr", with<cp::recipes::fp16_sr>(), n, trials));
    add(evaluate("bf16_sr", with<cp::recipes::bf16_sr>(), n, trials));
    add(evaluate("top_k (k = d/10)", cp::recipes::top_k{top10}, n, trials));
    add(evaluate("dgc_top_k (k = d/10)", cp::recipes::dgc_top_k{s::dgc_top_k{.ratio = 0.1}}, n,
                 trials));
    add(evaluate("rand_k (k = d/10)", with<cp::recipes::rand_k>({.ratio = 0.1}), n, trials));
    add(evaluate("rand_k_unscaled (k = d/10)",
                 with<cp::pipeline<s::rand_k_unscaled, q::identity, e::raw>>({.ratio = 0.1}), n,
                 trials));
    add(evaluate(
        "comp_k (k = d/10, k' = 3d/10)",
        with<cp::pipeline<s::comp_k, q::identity, e::bitpack>>({.ratio = 0.1, .ratio_prime = 0.3}),
        n, trials));
    add(evaluate("comp_k_unscaled (k = d/10, k' = 3d/10)",
                 with<cp::pipeline<s::comp_k_unscaled, q::identity, e::bitpack>>(
                     {.ratio = 0.1, .ratio_prime = 0.3}),
                 n, trials));
    add(evaluate("mix_k (k = d/10)",
                 with<cp::pipeline<s::mix_k, q::identity, e::bitpack>>({.ratio = 0.1}), n, trials));
    add(evaluate("perm_k (w = 8)",
                 with<cp::pipeline<s::perm_k, q::identity, e::raw>>({.workers = 8}), n, trials));
    add(evaluate("adaptive_rand", with<cp::recipes::adaptive_rand>(), n, trials));
    add(evaluate("threshold (lambda = 1)", cp::recipes::threshold{s::threshold{1.0}}, n, trials));
    add(evaluate("qsgd (s = 16)", with<cp::recipes::qsgd>(), n, trials));
    add(evaluate("qsgd (s = 1)", with<cp::recipes::qsgd>({}, {.levels = 1}), n, trials));
    add(evaluate("random_dithering (s = 4, linf)",
                 with<cp::pipeline<s::identity, q::random_dithering, e::elias_gamma>>(
                     {}, {.levels = 4, .norm = q::norm_kind::linf}),
                 n, trials));
    add(evaluate("natural", with<cp::recipes::natural>(), n, trials));
    add(evaluate("natural_dithering", with<cp::recipes::natural_dithering>(), n, trials));
    add(evaluate("terngrad", with<cp::recipes::terngrad>(), n, trials));
    add(evaluate("terngrad_clipped",
                 with<cp::pipeline<s::identity, q::terngrad_clipped, e::bitpack>>(), n, trials));
    add(evaluate("uniform8", cp::recipes::uniform8{}, n, trials));
    add(evaluate("uniform4_sr (bucket 128)",
                 with<cp::recipes::uniform8_sr>({}, {.bits = 4, .bucket = 128}), n, trials));
    add(evaluate("scaled_sign", cp::recipes::scaled_sign{}, n, trials));
    add(evaluate("sign", cp::recipes::sign{}, n, trials));
    add(evaluate("onebit", cp::recipes::onebit{}, n, trials));
    add(evaluate("rand_k . natural (U o U)",
                 with<cp::pipeline<s::rand_k, q::natural, e::bitpack>>({.ratio = 0.1}), n, trials));
    add(evaluate("top_k . natural (unscaled U o B)",
                 cp::pipeline<s::top_k, q::natural, e::bitpack>{top10}, n, trials));
    add(evaluate("induced(top_k, rand_k)",
                 cp::induced<cp::recipes::top_k, cp::recipes::rand_k>{
                     cp::recipes::top_k{top10, {}, {}, cp::seed{7}},
                     cp::recipes::rand_k{s::rand_k{.ratio = 0.1}}},
                 n, trials));
    bar.finish();

    std::printf("| operator | class | bound (d = %zu) | measured (worst of 4 shapes, %zu "
                "messages each) | bits/element |\n|---|---|---|---|---|\n",
                n, trials);
    bool all_ok = true;
    nlohmann::json j = nlohmann::json::array();
    for (const row& r : rows) {
        all_ok = all_ok && r.ok;
        std::printf("| %s | %s | %s | %s%s | %.3f |\n", r.name.c_str(), r.cls.c_str(),
                    r.bound.c_str(), r.measured.c_str(), r.ok ? "" : " **VIOLATED**",
                    r.bits_per_element);
        j.push_back({{"operator", r.name},
                     {"class", r.cls},
                     {"bound", r.bound},
                     {"measured", r.measured},
                     {"bits_per_element", r.bits_per_element},
                     {"within_bound", r.ok}});
    }
    if (!json_path.empty()) {
        const std::filesystem::path path(json_path);
        if (path.has_parent_path())
            std::filesystem::create_directories(path.parent_path());
        std::ofstream(path) << j.dump(2) << '\n';
    }
    return all_ok ? 0 : 1;
}
