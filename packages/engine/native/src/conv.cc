// 2-D convolutions (NHWC input, [KH, KW, CI, CO] filter, dilation 1) as matrix products on the
// selected GEMM library. Patches are gathered (im2col) a block of output rows at a time into a
// reused scratch buffer, so the gather stays in cache-sized pieces and nothing is allocated
// per call once the buffer has grown. A 1×1, stride-1, unpadded convolution needs no gather.
#include <string.h>

#include <algorithm>

#include "addon.h"

namespace openclip {
namespace {

// Output rows per block: bounded so the patch block stays a few MB.
const int64_t kBlockFloats = int64_t(1) << 20;

struct Geometry {
  int64_t N, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top, left;
  int64_t P() const { return KH * KW * CI; }
  int64_t rows() const { return N * OH * OW; }
  bool pointwise() const { return KH == 1 && KW == 1 && sh == 1 && sw == 1 && top == 0 && left == 0; }
};

// geometry: Int32Array [N, H, W, CI, OH, OW, CO, KH, KW, strideH, strideW, padTop, padLeft]
bool readGeometry(Args& a, size_t i, Geometry& g) {
  size_t n = 0;
  const int32_t* v = static_cast<const int32_t*>(a.ptr(i, &n));
  if (!a.ok) return false;
  if (!v || n != 13) {
    napi_throw_type_error(a.env, nullptr, "openclip_native: conv geometry must be an Int32Array of 13 values");
    return false;
  }
  int64_t* f[] = {&g.N, &g.H, &g.W, &g.CI, &g.OH, &g.OW, &g.CO, &g.KH, &g.KW, &g.sh, &g.sw, &g.top, &g.left};
  for (size_t k = 0; k < 13; k++) *f[k] = v[k];
  for (size_t k = 0; k < 11; k++)
    if (*f[k] <= 0) {
      napi_throw_range_error(a.env, nullptr, "openclip_native: conv geometry has a non-positive size or stride");
      return false;
    }
  return true;
}

int64_t blockRows(const Geometry& g) { return std::max<int64_t>(1, std::min(g.rows(), kBlockFloats / std::max<int64_t>(1, g.P()))); }

// Gathers output rows [r0, r0 + count) into cols (count × P), zeros outside the image.
void gather(const float* x, const Geometry& g, int64_t r0, int64_t count, float* cols) {
  const int64_t P = g.P(), per = g.OH * g.OW, rowLen = g.KW * g.CI;
  for (int64_t r = r0; r < r0 + count; r++) {
    const int64_t n = r / per, pos = r % per, oh = pos / g.OW, ow = pos % g.OW;
    float* c = cols + (r - r0) * P;
    const float* img = x + n * g.H * g.W * g.CI;
    const int64_t xc0 = ow * g.sw - g.left;
    // kernel columns whose input column lies inside the image: [kw0, kw1)
    const int64_t kw0 = std::max<int64_t>(0, -xc0), kw1 = std::min<int64_t>(g.KW, g.W - xc0);
    for (int64_t kh = 0; kh < g.KH; kh++, c += rowLen) {
      const int64_t xr = oh * g.sh + kh - g.top;
      if (xr < 0 || xr >= g.H || kw1 <= kw0) {
        memset(c, 0, sizeof(float) * rowLen);
        continue;
      }
      if (kw0 > 0) memset(c, 0, sizeof(float) * kw0 * g.CI);
      memcpy(c + kw0 * g.CI, img + (xr * g.W + xc0 + kw0) * g.CI, sizeof(float) * (kw1 - kw0) * g.CI);
      if (kw1 < g.KW) memset(c + kw1 * g.CI, 0, sizeof(float) * (g.KW - kw1) * g.CI);
    }
  }
}

VEC_CLONES void addRun(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

// The adjoint of gather: adds each row's patch back into dx.
void scatterAdd(const float* cols, const Geometry& g, int64_t r0, int64_t count, float* dx) {
  const int64_t P = g.P(), per = g.OH * g.OW, rowLen = g.KW * g.CI;
  for (int64_t r = r0; r < r0 + count; r++) {
    const int64_t n = r / per, pos = r % per, oh = pos / g.OW, ow = pos % g.OW;
    const float* c = cols + (r - r0) * P;
    float* img = dx + n * g.H * g.W * g.CI;
    const int64_t xc0 = ow * g.sw - g.left;
    const int64_t kw0 = std::max<int64_t>(0, -xc0), kw1 = std::min<int64_t>(g.KW, g.W - xc0);
    for (int64_t kh = 0; kh < g.KH; kh++, c += rowLen) {
      const int64_t xr = oh * g.sh + kh - g.top;
      if (xr < 0 || xr >= g.H || kw1 <= kw0) continue;
      addRun(img + (xr * g.W + xc0 + kw0) * g.CI, c + kw0 * g.CI, (kw1 - kw0) * g.CI);
    }
  }
}

bool fail(napi_env env) {
  napi_throw_error(env, nullptr, "openclip_native: the GEMM library rejected a convolution product");
  return false;
}

}  // namespace

// conv2dForward(x, filter, geometry, y): y[N·OH·OW, CO] = patches(x) · filter[P, CO]
napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  Geometry g;
  if (!a.ok || !readGeometry(a, 2, g)) return nullptr;
  float* x = a.floats(0, g.N * g.H * g.W * g.CI, "conv input");
  float* w = a.floats(1, g.P() * g.CO, "conv filter");
  float* y = a.floats(3, g.rows() * g.CO, "conv output");
  if (!a.ok) return nullptr;
  if (g.pointwise()) {
    if (!gemm(false, false, g.rows(), g.CO, g.CI, x, g.CI, w, g.CO, 0.0f, y, g.CO)) fail(env);
    return undef(env);
  }
  const int64_t P = g.P(), block = blockRows(g);
  float* cols = scratch(block * P);
  for (int64_t r0 = 0; r0 < g.rows(); r0 += block) {
    const int64_t count = std::min(block, g.rows() - r0);
    gather(x, g, r0, count, cols);
    if (!gemm(false, false, count, g.CO, P, cols, P, w, g.CO, 0.0f, y + r0 * g.CO, g.CO)) return fail(env), nullptr;
  }
  return undef(env);
}

// conv2dBackpropInput(dy, filter, geometry, dx): dx = scatter(dy · filterᵀ)
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  Geometry g;
  if (!a.ok || !readGeometry(a, 2, g)) return nullptr;
  float* dy = a.floats(0, g.rows() * g.CO, "conv output gradient");
  float* w = a.floats(1, g.P() * g.CO, "conv filter");
  float* dx = a.floats(3, g.N * g.H * g.W * g.CI, "conv input gradient");
  if (!a.ok) return nullptr;
  if (g.pointwise()) {
    if (!gemm(false, true, g.rows(), g.CI, g.CO, dy, g.CO, w, g.CO, 0.0f, dx, g.CI)) fail(env);
    return undef(env);
  }
  memset(dx, 0, sizeof(float) * g.N * g.H * g.W * g.CI);
  const int64_t P = g.P(), block = blockRows(g);
  float* cols = scratch(block * P);
  for (int64_t r0 = 0; r0 < g.rows(); r0 += block) {
    const int64_t count = std::min(block, g.rows() - r0);
    if (!gemm(false, true, count, P, g.CO, dy + r0 * g.CO, g.CO, w, g.CO, 0.0f, cols, P)) return fail(env), nullptr;
    scatterAdd(cols, g, r0, count, dx);
  }
  return undef(env);
}

// conv2dBackpropFilter(x, dy, geometry, dw): dw[P, CO] = Σ patches(x)ᵀ · dy
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  Geometry g;
  if (!a.ok || !readGeometry(a, 2, g)) return nullptr;
  float* x = a.floats(0, g.N * g.H * g.W * g.CI, "conv input");
  float* dy = a.floats(1, g.rows() * g.CO, "conv output gradient");
  float* dw = a.floats(3, g.P() * g.CO, "conv filter gradient");
  if (!a.ok) return nullptr;
  if (g.pointwise()) {
    if (!gemm(true, false, g.CI, g.CO, g.rows(), x, g.CI, dy, g.CO, 0.0f, dw, g.CO)) fail(env);
    return undef(env);
  }
  const int64_t P = g.P(), block = blockRows(g);
  float* cols = scratch(block * P);
  for (int64_t r0 = 0; r0 < g.rows(); r0 += block) {
    const int64_t count = std::min(block, g.rows() - r0);
    gather(x, g, r0, count, cols);
    if (!gemm(true, false, P, g.CO, count, cols, P, dy + r0 * g.CO, g.CO, r0 == 0 ? 0.0f : 1.0f, dw, g.CO)) return fail(env), nullptr;
  }
  return undef(env);
}

}  // namespace openclip
