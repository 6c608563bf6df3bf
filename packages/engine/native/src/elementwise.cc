// Vectorised elementwise loops for the native backend's big tensors: binary arithmetic over one
// run of a broadcast (each operand contiguous or a repeated scalar), ReLU, Step, and ReLU's
// gradient fused (dy·step(x), one pass instead of two kernels and a temporary).
#include <math.h>

#include "addon.h"

namespace openclip {
namespace {

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kSquaredDifference = 4 };

template <int OP>
inline float apply(float a, float b) {
  if (OP == kAdd) return a + b;
  if (OP == kSub) return a - b;
  if (OP == kMul) return a * b;
  if (OP == kDiv) return a / b;
  const double d = static_cast<double>(a) - b;  // as the JavaScript loop computes it (one rounding)
  return static_cast<float>(d * d);
}

// One function per (operation, operand layout), each its own vectorised loop.
#define BINARY_LOOPS(OP, NAME)                                                                         \
  VEC_CLONES void NAME##VV(const float* a, const float* b, float* o, int64_t n) {                       \
    for (int64_t i = 0; i < n; i++) o[i] = apply<OP>(a[i], b[i]);                                      \
  }                                                                                                    \
  VEC_CLONES void NAME##VS(const float* a, float b, float* o, int64_t n) {                             \
    for (int64_t i = 0; i < n; i++) o[i] = apply<OP>(a[i], b);                                         \
  }                                                                                                    \
  VEC_CLONES void NAME##SV(float a, const float* b, float* o, int64_t n) {                             \
    for (int64_t i = 0; i < n; i++) o[i] = apply<OP>(a, b[i]);                                         \
  }                                                                                                    \
  void NAME##Strided(const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {    \
    for (int64_t i = 0; i < n; i++) o[i] = apply<OP>(a[i * sa], b[i * sb]);                            \
  }                                                                                                    \
  void NAME(const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {             \
    if (sa == 1 && sb == 1) NAME##VV(a, b, o, n);                                                      \
    else if (sa == 1 && sb == 0) NAME##VS(a, *b, o, n);                                                \
    else if (sa == 0 && sb == 1) NAME##SV(*a, b, o, n);                                                \
    else NAME##Strided(a, sa, b, sb, o, n);                                                            \
  }

BINARY_LOOPS(kAdd, addRun)
BINARY_LOOPS(kSub, subRun)
BINARY_LOOPS(kMul, mulRun)
BINARY_LOOPS(kDiv, divRun)
BINARY_LOOPS(kSquaredDifference, sqdiffRun)

// NaN stays NaN (a·0 would keep it; the blend must too); -0 becomes 0
VEC_CLONES void reluLoop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float a = x[i];
    y[i] = a > 0 ? a : (a != a ? a : 0.0f);
  }
}

VEC_CLONES void stepLoop(const float* x, float* y, float alpha, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float a = x[i];
    y[i] = a != a ? a : (a > 0 ? 1.0f : alpha);
  }
}

// dx = dy·step(x), exactly as the composite (so 0·inf and NaN behave the same)
VEC_CLONES void reluGradLoop(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float a = x[i];
    const float s = a != a ? a : (a > 0 ? 1.0f : 0.0f);
    dx[i] = dy[i] * s;
  }
}

}  // namespace

// binaryRun(op, A, aOffset, aStride, B, bOffset, bStride, O, oOffset, n):
// O[oo + i] = A[ao + i·sa] ⊙ B[bo + i·sb] for i < n, op 0 add, 1 sub, 2 mul, 3 div, 4 squared difference.
napi_value BinaryRun(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  if (!a.ok) return nullptr;
  const int64_t op = a.i64(0), ao = a.i64(2), sa = a.i64(3), bo = a.i64(5), sb = a.i64(6), oo = a.i64(8), n = a.i64(9);
  if (!a.ok) return nullptr;
  if (n <= 0) return undef(env);
  if (ao < 0 || bo < 0 || oo < 0 || sa < 0 || sb < 0) {
    napi_throw_range_error(env, nullptr, "openclip_native: elementwise offsets and strides must be non-negative");
    return nullptr;
  }
  float* A = a.floats(1, ao + (n - 1) * sa + 1, "elementwise operand A", true);
  float* B = a.floats(4, bo + (n - 1) * sb + 1, "elementwise operand B", true);
  float* O = a.floats(7, oo + n, "elementwise output", true);
  if (!a.ok) return nullptr;
  A += ao;
  B += bo;
  O += oo;
  switch (op) {
    case kAdd: addRun(A, sa, B, sb, O, n); break;
    case kSub: subRun(A, sa, B, sb, O, n); break;
    case kMul: mulRun(A, sa, B, sb, O, n); break;
    case kDiv: divRun(A, sa, B, sb, O, n); break;
    case kSquaredDifference: sqdiffRun(A, sa, B, sb, O, n); break;
    default: napi_throw_range_error(env, nullptr, "openclip_native: unknown elementwise operation"); return nullptr;
  }
  return undef(env);
}

// relu(x, y), step(x, y, alpha), reluGrad(dy, x, dx): whole arrays of equal length
napi_value Relu(napi_env env, napi_callback_info info) {
  Args a(env, info, 2);
  size_t n = 0;
  const float* x = static_cast<const float*>(a.ptr(0, &n));
  float* y = a.floats(1, static_cast<int64_t>(n), "relu output");
  if (!a.ok) return nullptr;
  reluLoop(x, y, static_cast<int64_t>(n));
  return undef(env);
}

napi_value Step(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  size_t n = 0;
  const float* x = static_cast<const float*>(a.ptr(0, &n));
  float* y = a.floats(1, static_cast<int64_t>(n), "step output");
  const float alpha = static_cast<float>(a.num(2));
  if (!a.ok) return nullptr;
  stepLoop(x, y, alpha, static_cast<int64_t>(n));
  return undef(env);
}

napi_value ReluGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  size_t n = 0;
  const float* dy = static_cast<const float*>(a.ptr(0, &n));
  const float* x = a.floats(1, static_cast<int64_t>(n), "relu gradient input");
  float* dx = a.floats(2, static_cast<int64_t>(n), "relu gradient output");
  if (!a.ok) return nullptr;
  reluGradLoop(dy, x, dx, static_cast<int64_t>(n));
  return undef(env);
}

}  // namespace openclip
