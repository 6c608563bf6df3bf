// Depthwise 2-D convolutions (TF's DepthwiseConv2dNative and its two gradients): NHWC input
// [N, H, W, C], filter [KH, KW, C, M], output [N, OH, OW, C·M] (output channel c·M + m reads input
// channel c), dilation 1. Each output pixel is a sum over the kernel window of channel-wise
// products, so the loops run over whole channel rows (contiguous in NHWC), which vectorise; the
// window is clipped to the image instead of testing every tap.
#include <string.h>

#include <algorithm>

#include "addon.h"

namespace openclip {
namespace {

struct DwGeometry {
  int64_t N, H, W, C, OH, OW, M, KH, KW, sh, sw, top, left;
  int64_t CM() const { return C * M; }
};

// geometry: Int32Array [N, H, W, C, OH, OW, M, KH, KW, strideH, strideW, padTop, padLeft]
bool readDwGeometry(Args& a, size_t i, DwGeometry& g) {
  size_t n = 0;
  const int32_t* v = static_cast<const int32_t*>(a.ptr(i, &n));
  if (!a.ok) return false;
  if (!v || n != 13) {
    napi_throw_type_error(a.env, nullptr, "openclip_native: depthwise conv geometry must be an Int32Array of 13 values");
    return false;
  }
  int64_t* f[] = {&g.N, &g.H, &g.W, &g.C, &g.OH, &g.OW, &g.M, &g.KH, &g.KW, &g.sh, &g.sw, &g.top, &g.left};
  for (size_t k = 0; k < 13; k++) *f[k] = v[k];
  for (size_t k = 0; k < 11; k++)
    if (*f[k] <= 0) {
      napi_throw_range_error(a.env, nullptr, "openclip_native: depthwise conv geometry has a non-positive size or stride");
      return false;
    }
  if (g.top < 0 || g.left < 0) {
    napi_throw_range_error(a.env, nullptr, "openclip_native: depthwise conv geometry has negative padding");
    return false;
  }
  return true;
}

// The kernel taps of output coordinate o (stride s, padding p) that land inside [0, size): [k0, k1).
inline void window(int64_t o, int64_t s, int64_t p, int64_t K, int64_t size, int64_t& k0, int64_t& k1) {
  const int64_t i0 = o * s - p;
  k0 = std::max<int64_t>(0, -i0);
  k1 = std::min<int64_t>(K, size - i0);
}

// acc[i] += a[i]·b[i]
VEC_CLONES void fma3(float* acc, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; i++) acc[i] += a[i] * b[i];
}

// acc[c·M + m] += a[c]·b[c·M + m] (channel multiplier M > 1)
void fmaMult(float* acc, const float* a, const float* b, int64_t C, int64_t M) {
  for (int64_t c = 0; c < C; c++) {
    const float av = a[c];
    for (int64_t m = 0; m < M; m++) acc[c * M + m] += av * b[c * M + m];
  }
}

// acc[c] += Σ_m a[c·M + m]·b[c·M + m] (the input gradient with M > 1)
void fmaReduce(float* acc, const float* a, const float* b, int64_t C, int64_t M) {
  for (int64_t c = 0; c < C; c++) {
    float s = 0;
    for (int64_t m = 0; m < M; m++) s += a[c * M + m] * b[c * M + m];
    acc[c] += s;
  }
}

// The traversal all three kernels share: for every output pixel, `begin(o)` once, then
// `tap(p, o, t)` for each kernel tap whose input pixel lies inside the image (padding taps are
// skipped). p: offset of that input pixel's C values; o: of the output pixel's C·M values;
// t: of the tap's C·M filter values.
template <typename Begin, typename Tap>
void forEachTap(const DwGeometry& g, Begin begin, Tap tap) {
  const int64_t CM = g.CM();
  for (int64_t n = 0; n < g.N; n++) {
    for (int64_t oh = 0; oh < g.OH; oh++) {
      int64_t kh0, kh1;
      window(oh, g.sh, g.top, g.KH, g.H, kh0, kh1);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        int64_t kw0, kw1;
        window(ow, g.sw, g.left, g.KW, g.W, kw0, kw1);
        const int64_t o = ((n * g.OH + oh) * g.OW + ow) * CM;
        begin(o);
        for (int64_t kh = kh0; kh < kh1; kh++) {
          const int64_t ih = oh * g.sh - g.top + kh;
          for (int64_t kw = kw0; kw < kw1; kw++) tap(((n * g.H + ih) * g.W + ow * g.sw - g.left + kw) * g.C, o, (kh * g.KW + kw) * CM);
        }
      }
    }
  }
}

}  // namespace

// depthwiseConv2dForward(x, filter, geometry, y)
napi_value DepthwiseConv2dForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  DwGeometry g;
  if (!a.ok || !readDwGeometry(a, 2, g)) return nullptr;
  const int64_t CM = g.CM();
  const float* x = a.floats(0, g.N * g.H * g.W * g.C, "depthwise conv input");
  const float* f = a.floats(1, g.KH * g.KW * CM, "depthwise conv filter");
  float* y = a.floats(3, g.N * g.OH * g.OW * CM, "depthwise conv output");
  if (!a.ok) return nullptr;
  forEachTap(
      g, [&](int64_t o) { memset(y + o, 0, sizeof(float) * CM); },
      [&](int64_t p, int64_t o, int64_t t) {
        if (g.M == 1) fma3(y + o, x + p, f + t, g.C);
        else fmaMult(y + o, x + p, f + t, g.C, g.M);
      });
  return undef(env);
}

// depthwiseConv2dBackpropInput(dy, filter, geometry, dx): each output pixel's gradient spread back over its window
napi_value DepthwiseConv2dBackpropInput(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  DwGeometry g;
  if (!a.ok || !readDwGeometry(a, 2, g)) return nullptr;
  const int64_t CM = g.CM();
  const float* dy = a.floats(0, g.N * g.OH * g.OW * CM, "depthwise conv output gradient");
  const float* f = a.floats(1, g.KH * g.KW * CM, "depthwise conv filter");
  float* dx = a.floats(3, g.N * g.H * g.W * g.C, "depthwise conv input gradient");
  if (!a.ok) return nullptr;
  memset(dx, 0, sizeof(float) * g.N * g.H * g.W * g.C);
  forEachTap(
      g, [](int64_t) {},
      [&](int64_t p, int64_t o, int64_t t) {
        if (g.M == 1) fma3(dx + p, dy + o, f + t, g.C);
        else fmaReduce(dx + p, dy + o, f + t, g.C, g.M);
      });
  return undef(env);
}

// depthwiseConv2dBackpropFilter(x, dy, geometry, df): df[kh, kw] = Σ over output pixels of input row × output gradient
napi_value DepthwiseConv2dBackpropFilter(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  DwGeometry g;
  if (!a.ok || !readDwGeometry(a, 2, g)) return nullptr;
  const int64_t CM = g.CM();
  const float* x = a.floats(0, g.N * g.H * g.W * g.C, "depthwise conv input");
  const float* dy = a.floats(1, g.N * g.OH * g.OW * CM, "depthwise conv output gradient");
  float* df = a.floats(3, g.KH * g.KW * CM, "depthwise conv filter gradient");
  if (!a.ok) return nullptr;
  memset(df, 0, sizeof(float) * g.KH * g.KW * CM);
  forEachTap(
      g, [](int64_t) {},
      [&](int64_t p, int64_t o, int64_t t) {
        if (g.M == 1) fma3(df + t, x + p, dy + o, g.C);
        else fmaMult(df + t, x + p, dy + o, g.C, g.M);
      });
  return undef(env);
}

}  // namespace openclip
