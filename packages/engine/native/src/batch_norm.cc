// Training-mode batch normalisation over the last axis of a [rows, C] view of NHWC
// activations: batch statistics in double precision, two passes each way.
#include <math.h>
#include <string.h>

#include <vector>

#include "addon.h"

namespace openclip {
namespace {

VEC_CLONES void accumulate(const float* x, double* s, int64_t C) {
  for (int64_t c = 0; c < C; c++) s[c] += x[c];
}

VEC_CLONES void accumulateSquares(const float* x, const float* mean, double* s, int64_t C) {
  for (int64_t c = 0; c < C; c++) {
    const double d = static_cast<double>(x[c]) - mean[c];
    s[c] += d * d;
  }
}

VEC_CLONES void affine(const float* x, const float* scale, const float* shift, float* y, int64_t C) {
  for (int64_t c = 0; c < C; c++) y[c] = x[c] * scale[c] + shift[c];
}

VEC_CLONES void gradSums(const float* dy, const float* x, const float* mean, const double* rstd, double* sdy, double* sdyx, int64_t C) {
  for (int64_t c = 0; c < C; c++) {
    const double g = dy[c];
    sdy[c] += g;
    sdyx[c] += g * (static_cast<double>(x[c]) - mean[c]) * rstd[c];
  }
}

VEC_CLONES void gradInput(const float* dy, const float* x, const float* mean, const float* k, const float* a, const float* b, float* dx,
                          int64_t C) {
  for (int64_t c = 0; c < C; c++) dx[c] = k[c] * (dy[c] - a[c] - (x[c] - mean[c]) * b[c]);
}

}  // namespace

// batchNormFwd(x, gamma, beta, rows, C, eps, y, mean, variance): y = (x − μ)/√(σ² + eps)·γ + β
// with the batch mean μ and biased variance σ² of every channel.
napi_value BatchNormFwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 9);
  if (!a.ok) return nullptr;
  const int64_t rows = a.i64(3), C = a.i64(4);
  const double eps = a.num(5);
  const float* x = a.floats(0, rows * C, "batch norm input");
  const float* gamma = a.floats(1, C, "batch norm gamma");
  const float* beta = a.floats(2, C, "batch norm beta");
  float* y = a.floats(6, rows * C, "batch norm output");
  float* mean = a.floats(7, C, "batch norm mean");
  float* var = a.floats(8, C, "batch norm variance");
  if (!a.ok) return nullptr;
  std::vector<double> s(C, 0.0);
  for (int64_t r = 0; r < rows; r++) accumulate(x + r * C, s.data(), C);
  for (int64_t c = 0; c < C; c++) mean[c] = static_cast<float>(s[c] / rows);
  std::fill(s.begin(), s.end(), 0.0);
  for (int64_t r = 0; r < rows; r++) accumulateSquares(x + r * C, mean, s.data(), C);
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; c++) {
    var[c] = static_cast<float>(s[c] / rows);
    scale[c] = static_cast<float>(gamma[c] / sqrt(static_cast<double>(var[c]) + eps));
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  for (int64_t r = 0; r < rows; r++) affine(x + r * C, scale.data(), shift.data(), y + r * C, C);
  return undef(env);
}

// batchNormBwd(dy, x, gamma, mean, variance, rows, C, eps, dx, dgamma, dbeta):
// dx = γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy, with x̂ = (x − μ)·rstd.
napi_value BatchNormBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  if (!a.ok) return nullptr;
  const int64_t rows = a.i64(5), C = a.i64(6);
  const double eps = a.num(7);
  const float* dy = a.floats(0, rows * C, "batch norm output gradient");
  const float* x = a.floats(1, rows * C, "batch norm input");
  const float* gamma = a.floats(2, C, "batch norm gamma");
  const float* mean = a.floats(3, C, "batch norm mean");
  const float* var = a.floats(4, C, "batch norm variance");
  float* dx = a.floats(8, rows * C, "batch norm input gradient");
  float* dgamma = a.floats(9, C, "batch norm gamma gradient");
  float* dbeta = a.floats(10, C, "batch norm beta gradient");
  if (!a.ok) return nullptr;
  std::vector<double> rstd(C), sdy(C, 0.0), sdyx(C, 0.0);
  for (int64_t c = 0; c < C; c++) rstd[c] = 1.0 / sqrt(static_cast<double>(var[c]) + eps);
  for (int64_t r = 0; r < rows; r++) gradSums(dy + r * C, x + r * C, mean, rstd.data(), sdy.data(), sdyx.data(), C);
  std::vector<float> k(C), ka(C), kb(C);
  for (int64_t c = 0; c < C; c++) {
    dbeta[c] = static_cast<float>(sdy[c]);
    dgamma[c] = static_cast<float>(sdyx[c]);
    k[c] = static_cast<float>(gamma[c] * rstd[c]);
    ka[c] = static_cast<float>(sdy[c] / rows);
    kb[c] = static_cast<float>(sdyx[c] / rows * rstd[c]);
  }
  for (int64_t r = 0; r < rows; r++) gradInput(dy + r * C, x + r * C, mean, k.data(), ka.data(), kb.data(), dx + r * C, C);
  return undef(env);
}

}  // namespace openclip
