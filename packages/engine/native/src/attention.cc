// The attention core, one [Lq, Lk] score plane at a time so it stays in cache between the
// products and the softmax: forward O = softmax(scale·Q Kᵀ + mask) V keeping the probabilities P;
// backward dV = Pᵀ dO, dS = scale · P ⊙ (dO Vᵀ − rowsum(dO Vᵀ ⊙ P)), dQ = dS K, dK = dSᵀ Q.
#include <math.h>


#include "addon.h"
#include "vmath.h"

namespace openclip {
namespace {

VEC_CLONES void scaleRow(float* s, float scale, int64_t n) {
  for (int64_t j = 0; j < n; j++) s[j] *= scale;
}

// s[j] = s[j]·scale + m[j·stride]
void scaleMaskRow(float* s, float scale, const float* m, int64_t stride, int64_t n) {
  for (int64_t j = 0; j < n; j++) s[j] = s[j] * scale + m[j * stride];
}

VEC_CLONES void expShifted(float* s, float shift, int64_t n) {
  for (int64_t j = 0; j < n; j++) s[j] = exp_f(s[j] - shift);
}

// softmax of one row in place (a row that is -inf everywhere becomes NaN, as the composite path gives)
void softmaxRow(float* s, int64_t n) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
  expShifted(s, mx, n);
  double sum = 0;
  for (int64_t j = 0; j < n; j++) sum += s[j];
  const double inv = 1.0 / sum;
  for (int64_t j = 0; j < n; j++) s[j] = static_cast<float>(s[j] * inv);
}

// ds[j] = p[j]·(ds[j] − Σ ds·p)·scale
void softmaxGradRow(const float* p, float* ds, float scale, int64_t n) {
  double dot = 0;
  for (int64_t j = 0; j < n; j++) dot += static_cast<double>(ds[j]) * p[j];
  for (int64_t j = 0; j < n; j++) ds[j] = static_cast<float>(p[j] * (ds[j] - dot) * scale);
}

napi_value gemmFailed(napi_env env) {
  napi_throw_error(env, nullptr, "openclip_native: the GEMM library rejected an attention product");
  return nullptr;
}

}  // namespace

// attentionFwd(q, k, v, mask|null, maskBase|null, maskRowStride, maskColStride, batch, Lq, Lk, D, Dv, scale, o, p)
// q [batch, Lq, D], k [batch, Lk, D], v [batch, Lk, Dv]; the mask value of (b, i, j) is
// mask[maskBase[b] + i·rowStride + j·colStride].
napi_value AttentionFwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 15);
  if (!a.ok) return nullptr;
  const int64_t rs = a.i64(5), cs = a.i64(6), B = a.i64(7), Lq = a.i64(8), Lk = a.i64(9), D = a.i64(10), Dv = a.i64(11);
  const float scale = static_cast<float>(a.num(12));
  const float* q = a.floats(0, B * Lq * D, "attention q");
  const float* k = a.floats(1, B * Lk * D, "attention k");
  const float* v = a.floats(2, B * Lk * Dv, "attention v");
  float* o = a.floats(13, B * Lq * Dv, "attention output");
  float* p = a.floats(14, B * Lq * Lk, "attention probabilities");
  if (!a.ok) return nullptr;
  size_t maskLen = 0, baseLen = 0;
  const float* mask = static_cast<const float*>(a.ptr(3, &maskLen));
  const int32_t* base = static_cast<const int32_t*>(a.ptr(4, &baseLen));
  if (!a.ok) return nullptr;
  if (mask && (!base || static_cast<int64_t>(baseLen) != B)) {
    napi_throw_range_error(env, nullptr, "openclip_native: attention mask offsets must have one entry per batch index");
    return nullptr;
  }
  if (mask && Lq > 0 && Lk > 0) {  // every index the layout can reach must lie inside the mask
    const int64_t span = (Lq - 1) * rs + (Lk - 1) * cs;
    for (int64_t b = 0; b < B; b++)
      if (base[b] < 0 || base[b] + span >= static_cast<int64_t>(maskLen)) {
        napi_throw_range_error(env, nullptr, "openclip_native: attention mask layout reaches outside the mask");
        return nullptr;
      }
  }
  for (int64_t b = 0; b < B; b++) {
    float* P = p + b * Lq * Lk;
    if (!gemm(false, true, Lq, Lk, D, q + b * Lq * D, D, k + b * Lk * D, D, 0.0f, P, Lk)) return gemmFailed(env);
    for (int64_t i = 0; i < Lq; i++) {
      float* row = P + i * Lk;
      if (mask) scaleMaskRow(row, scale, mask + base[b] + i * rs, cs, Lk);
      else scaleRow(row, scale, Lk);
      softmaxRow(row, Lk);
    }
    if (!gemm(false, false, Lq, Dv, Lk, P, Lk, v + b * Lk * Dv, Dv, 0.0f, o + b * Lq * Dv, Dv)) return gemmFailed(env);
  }
  return undef(env);
}

// attentionBwd(dy, q, k, v, p, batch, Lq, Lk, D, Dv, scale, dq, dk, dv)
napi_value AttentionBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 14);
  if (!a.ok) return nullptr;
  const int64_t B = a.i64(5), Lq = a.i64(6), Lk = a.i64(7), D = a.i64(8), Dv = a.i64(9);
  const float scale = static_cast<float>(a.num(10));
  const float* dO = a.floats(0, B * Lq * Dv, "attention output gradient");
  const float* q = a.floats(1, B * Lq * D, "attention q");
  const float* k = a.floats(2, B * Lk * D, "attention k");
  const float* v = a.floats(3, B * Lk * Dv, "attention v");
  const float* p = a.floats(4, B * Lq * Lk, "attention probabilities");
  float* dq = a.floats(11, B * Lq * D, "attention dq");
  float* dk = a.floats(12, B * Lk * D, "attention dk");
  float* dv = a.floats(13, B * Lk * Dv, "attention dv");
  if (!a.ok) return nullptr;
  float* S = scratch(Lq * Lk);
  for (int64_t b = 0; b < B; b++) {
    const float *P = p + b * Lq * Lk, *dOb = dO + b * Lq * Dv, *Qb = q + b * Lq * D, *Kb = k + b * Lk * D;
    if (!gemm(true, false, Lk, Dv, Lq, P, Lk, dOb, Dv, 0.0f, dv + b * Lk * Dv, Dv)) return gemmFailed(env);
    if (!gemm(false, true, Lq, Lk, Dv, dOb, Dv, v + b * Lk * Dv, Dv, 0.0f, S, Lk)) return gemmFailed(env);
    for (int64_t i = 0; i < Lq; i++) softmaxGradRow(P + i * Lk, S + i * Lk, scale, Lk);
    if (!gemm(false, false, Lq, D, Lk, S, Lk, Kb, D, 0.0f, dq + b * Lq * D, D)) return gemmFailed(env);
    if (!gemm(true, false, Lk, D, Lq, S, Lk, Qb, D, 0.0f, dk + b * Lk * D, D)) return gemmFailed(env);
  }
  return undef(env);
}

}  // namespace openclip
