// Finite-difference gradient checking shared by the op and layer tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "engine/rng.h"

namespace aha::test {

// Compares the analytic directional derivative g·v with the central difference
// (f(x + h·v) − f(x − h·v)) / 2h along a random unit direction v over `x[0..n)`.
// Returns the relative error |fd − an| / max(|fd|, |an|, floor).
inline double directional_check(float* x, size_t n, const float* grad,
                                const std::function<double()>& f, uint64_t seed, double h,
                                double* fd_out = nullptr, double* an_out = nullptr,
                                double floor = 1e-6) {
  Rng rng(seed);
  std::vector<double> v(n);
  double norm = 0.0;
  for (auto& e : v) { e = rng.normal(); norm += e * e; }
  norm = std::sqrt(norm);
  double an = 0.0;
  for (size_t i = 0; i < n; i++) { v[i] /= norm; an += v[i] * grad[i]; }
  std::vector<float> x0(x, x + n);
  for (size_t i = 0; i < n; i++) x[i] = (float)(x0[i] + h * v[i]);
  const double fp = f();
  for (size_t i = 0; i < n; i++) x[i] = (float)(x0[i] - h * v[i]);
  const double fm = f();
  for (size_t i = 0; i < n; i++) x[i] = x0[i];
  const double fd = (fp - fm) / (2 * h);
  if (fd_out) *fd_out = fd;
  if (an_out) *an_out = an;
  return std::abs(fd - an) / std::max({std::abs(fd), std::abs(an), floor});
}

// Two gradient vectors of the same size compared: max |a − b| and max |a|.
struct GradDiff { double max_diff = 0, max_abs = 0; };
inline GradDiff grad_diff(const std::vector<float>& a, const std::vector<float>& b) {
  GradDiff d;
  for (size_t i = 0; i < a.size() && i < b.size(); i++) {
    d.max_diff = std::max(d.max_diff, (double)std::fabs(a[i] - b[i]));
    d.max_abs = std::max(d.max_abs, (double)std::fabs(a[i]));
  }
  return d;
}

inline std::vector<float> random_vec(size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& e : v) e = (float)(rng.normal() * scale);
  return v;
}

}  // namespace aha::test
