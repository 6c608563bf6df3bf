// 2-D convolutions (NHWC input, [KH, KW, CI/G, CO] filter, dilation 1, G groups) as matrix
// products on the selected GEMM library. Patches are gathered (im2col) a block of output rows at a
// time into a reused scratch buffer, so the gather stays in cache-sized pieces and nothing is
// allocated per call once the buffer has grown. A 1×1, stride-1, unpadded convolution needs no
// gather. With G > 1 group g reads input channels [g·CI/G, (g+1)·CI/G) and writes output channels
// [g·CO/G, (g+1)·CO/G): one product per group, its operands addressed in place through the
// leading dimensions (the filter's columns and the output's channels are strided by CO).
#include <string.h>

#include <algorithm>

#include "addon.h"

namespace openclip {
namespace {

// Output rows per block: bounded so the patch block stays a few MB.
const int64_t kBlockFloats = int64_t(1) << 20;

struct Geometry {
  int64_t N, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top, left, G = 1;
  // input / output channels per group
  int64_t a() const { return CI / G; }
  int64_t b() const { return CO / G; }
  // patch length of one group (the filter's rows)
  int64_t P() const { return KH * KW * a(); }
  int64_t rows() const { return N * OH * OW; }
  bool pointwise() const { return KH == 1 && KW == 1 && sh == 1 && sw == 1 && top == 0 && left == 0 && OH == H && OW == W; }
};

// geometry: Int32Array [N, H, W, CI, OH, OW, CO, KH, KW, strideH, strideW, padTop, padLeft(, groups)]
bool readGeometry(Args& a, size_t i, Geometry& g) {
  size_t n = 0;
  const int32_t* v = static_cast<const int32_t*>(a.ptr(i, &n));
  if (!a.ok) return false;
  if (!v || (n != 13 && n != 14)) {
    napi_throw_type_error(a.env, nullptr, "openclip_native: conv geometry must be an Int32Array of 13 values (14 with groups)");
    return false;
  }
  int64_t* f[] = {&g.N, &g.H, &g.W, &g.CI, &g.OH, &g.OW, &g.CO, &g.KH, &g.KW, &g.sh, &g.sw, &g.top, &g.left, &g.G};
  for (size_t k = 0; k < n; k++) *f[k] = v[k];
  for (size_t k = 0; k < 11; k++)
    if (*f[k] <= 0) {
      napi_throw_range_error(a.env, nullptr, "openclip_native: conv geometry has a non-positive size or stride");
      return false;
    }
  if (g.top < 0 || g.left < 0) {
    napi_throw_range_error(a.env, nullptr, "openclip_native: conv geometry has negative padding");
    return false;
  }
  if (g.G <= 0 || g.CI % g.G != 0 || g.CO % g.G != 0) {
    napi_throw_range_error(a.env, nullptr, "openclip_native: conv groups must divide the input and output channels");
    return false;
  }
  return true;
}

int64_t blockRows(const Geometry& g) { return std::max<int64_t>(1, std::min(g.rows(), kBlockFloats / std::max<int64_t>(1, g.P()))); }

// Gathers output rows [r0, r0 + count) of group grp's input channels into cols (count × P),
// zeros outside the image.
void gather(const float* x, const Geometry& g, int64_t grp, int64_t r0, int64_t count, float* cols) {
  const int64_t P = g.P(), per = g.OH * g.OW, A = g.a(), rowLen = g.KW * A;
  for (int64_t r = r0; r < r0 + count; r++) {
    const int64_t n = r / per, pos = r % per, oh = pos / g.OW, ow = pos % g.OW;
    float* c = cols + (r - r0) * P;
    const float* img = x + n * g.H * g.W * g.CI + grp * A;
    const int64_t xc0 = ow * g.sw - g.left;
    // kernel columns whose input column lies inside the image: [kw0, kw1)
    const int64_t kw0 = std::max<int64_t>(0, -xc0), kw1 = std::min<int64_t>(g.KW, g.W - xc0);
    for (int64_t kh = 0; kh < g.KH; kh++, c += rowLen) {
      const int64_t xr = oh * g.sh + kh - g.top;
      if (xr < 0 || xr >= g.H || kw1 <= kw0) {
        memset(c, 0, sizeof(float) * rowLen);
        continue;
      }
      if (kw0 > 0) memset(c, 0, sizeof(float) * kw0 * A);
      const float* src = img + (xr * g.W + xc0 + kw0) * g.CI;
      if (g.G == 1) memcpy(c + kw0 * A, src, sizeof(float) * (kw1 - kw0) * A);  // one contiguous run
      else
        for (int64_t kw = kw0; kw < kw1; kw++) memcpy(c + kw * A, src + (kw - kw0) * g.CI, sizeof(float) * A);
      if (kw1 < g.KW) memset(c + kw1 * A, 0, sizeof(float) * (g.KW - kw1) * A);
    }
  }
}

VEC_CLONES void addRun(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

// The adjoint of gather: adds each row's patch back into group grp's channels of dx.
void scatterAdd(const float* cols, const Geometry& g, int64_t grp, int64_t r0, int64_t count, float* dx) {
  const int64_t P = g.P(), per = g.OH * g.OW, A = g.a(), rowLen = g.KW * A;
  for (int64_t r = r0; r < r0 + count; r++) {
    const int64_t n = r / per, pos = r % per, oh = pos / g.OW, ow = pos % g.OW;
    const float* c = cols + (r - r0) * P;
    float* img = dx + n * g.H * g.W * g.CI + grp * A;
    const int64_t xc0 = ow * g.sw - g.left;
    const int64_t kw0 = std::max<int64_t>(0, -xc0), kw1 = std::min<int64_t>(g.KW, g.W - xc0);
    for (int64_t kh = 0; kh < g.KH; kh++, c += rowLen) {
      const int64_t xr = oh * g.sh + kh - g.top;
      if (xr < 0 || xr >= g.H || kw1 <= kw0) continue;
      float* dst = img + (xr * g.W + xc0 + kw0) * g.CI;
      if (g.G == 1) addRun(dst, c + kw0 * A, (kw1 - kw0) * A);
      else
        for (int64_t kw = kw0; kw < kw1; kw++) addRun(dst + (kw - kw0) * g.CI, c + kw * A, A);
    }
  }
}

bool fail(napi_env env) {
  napi_throw_error(env, nullptr, "openclip_native: the GEMM library rejected a convolution product");
  return false;
}

}  // namespace

// conv2dForward(x, filter, geometry, y): per group, y[:, group's CO/G] = patches(x) · filter[P, group's CO/G]
napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  Geometry g;
  if (!a.ok || !readGeometry(a, 2, g)) return nullptr;
  float* x = a.floats(0, g.N * g.H * g.W * g.CI, "conv input");
  float* w = a.floats(1, g.P() * g.CO, "conv filter");
  float* y = a.floats(3, g.rows() * g.CO, "conv output");
  if (!a.ok) return nullptr;
  const int64_t A = g.a(), B = g.b();
  if (g.pointwise()) {
    for (int64_t grp = 0; grp < g.G; grp++)
      if (!gemm(false, false, g.rows(), B, A, x + grp * A, g.CI, w + grp * B, g.CO, 0.0f, y + grp * B, g.CO)) return fail(env), nullptr;
    return undef(env);
  }
  const int64_t P = g.P(), block = blockRows(g);
  float* cols = scratch(block * P);
  for (int64_t r0 = 0; r0 < g.rows(); r0 += block) {
    const int64_t count = std::min(block, g.rows() - r0);
    for (int64_t grp = 0; grp < g.G; grp++) {
      gather(x, g, grp, r0, count, cols);
      if (!gemm(false, false, count, B, P, cols, P, w + grp * B, g.CO, 0.0f, y + r0 * g.CO + grp * B, g.CO)) return fail(env), nullptr;
    }
  }
  return undef(env);
}

// conv2dBackpropInput(dy, filter, geometry, dx): per group, dx += scatter(dy · filterᵀ)
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  Geometry g;
  if (!a.ok || !readGeometry(a, 2, g)) return nullptr;
  float* dy = a.floats(0, g.rows() * g.CO, "conv output gradient");
  float* w = a.floats(1, g.P() * g.CO, "conv filter");
  float* dx = a.floats(3, g.N * g.H * g.W * g.CI, "conv input gradient");
  if (!a.ok) return nullptr;
  const int64_t A = g.a(), B = g.b();
  if (g.pointwise()) {
    for (int64_t grp = 0; grp < g.G; grp++)
      if (!gemm(false, true, g.rows(), A, B, dy + grp * B, g.CO, w + grp * B, g.CO, 0.0f, dx + grp * A, g.CI)) return fail(env), nullptr;
    return undef(env);
  }
  memset(dx, 0, sizeof(float) * g.N * g.H * g.W * g.CI);
  const int64_t P = g.P(), block = blockRows(g);
  float* cols = scratch(block * P);
  for (int64_t r0 = 0; r0 < g.rows(); r0 += block) {
    const int64_t count = std::min(block, g.rows() - r0);
    for (int64_t grp = 0; grp < g.G; grp++) {
      if (!gemm(false, true, count, P, B, dy + r0 * g.CO + grp * B, g.CO, w + grp * B, g.CO, 0.0f, cols, P)) return fail(env), nullptr;
      scatterAdd(cols, g, grp, r0, count, dx);
    }
  }
  return undef(env);
}

// conv2dBackpropFilter(x, dy, geometry, dw): per group, dw[P, group's CO/G] = Σ patches(x)ᵀ · dy
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  Geometry g;
  if (!a.ok || !readGeometry(a, 2, g)) return nullptr;
  float* x = a.floats(0, g.N * g.H * g.W * g.CI, "conv input");
  float* dy = a.floats(1, g.rows() * g.CO, "conv output gradient");
  float* dw = a.floats(3, g.P() * g.CO, "conv filter gradient");
  if (!a.ok) return nullptr;
  const int64_t A = g.a(), B = g.b();
  if (g.pointwise()) {
    for (int64_t grp = 0; grp < g.G; grp++)
      if (!gemm(true, false, A, B, g.rows(), x + grp * A, g.CI, dy + grp * B, g.CO, 0.0f, dw + grp * B, g.CO)) return fail(env), nullptr;
    return undef(env);
  }
  const int64_t P = g.P(), block = blockRows(g);
  float* cols = scratch(block * P);
  for (int64_t r0 = 0; r0 < g.rows(); r0 += block) {
    const int64_t count = std::min(block, g.rows() - r0);
    for (int64_t grp = 0; grp < g.G; grp++) {
      gather(x, g, grp, r0, count, cols);
      if (!gemm(true, false, P, B, count, cols, P, dy + r0 * g.CO + grp * B, g.CO, r0 == 0 ? 0.0f : 1.0f, dw + grp * B, g.CO))
        return fail(env), nullptr;
    }
  }
  return undef(env);
}

}  // namespace openclip
