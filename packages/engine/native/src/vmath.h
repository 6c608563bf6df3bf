// Vectorisable scalar math shared by the addon's kernels: inline, branch-free, so loops over
// them vectorise under VEC_CLONES.
#pragma once
#include <math.h>
#include <stdint.h>

namespace openclip {

// Vectorisable math (Cephes-style expf; erf from a series near 0 and A&S 7.1.26 elsewhere)
__attribute__((always_inline)) inline float exp_f(float x) {
  const float hi = 88.3762626647949f, lo = -87.33654475f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  float fx = floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t n = static_cast<int32_t>(fx);
  union { int32_t i; float f; } u;
  u.i = (n + 127) << 23;
  float y = p * u.f;
  y = x < lo ? 0.0f : y;
  y = x > hi ? INFINITY : y;
  return x != x ? x : y;
}

__attribute__((always_inline)) inline float erf_f(float x) {
  float ax = fabsf(x);
  // A&S 7.1.26, |error| <= 1.5e-7
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  float far = 1.0f - poly * exp_f(-ax * ax);
  far = x < 0 ? -far : far;
  // Maclaurin series up to x^11 for |x| < 0.5 (keeps the relative error small near 0)
  float x2 = x * x;
  float near = x * (1.1283791671f + x2 * (-0.3761263890f + x2 * (0.1128379167f + x2 * (-0.0268661706f + x2 * (0.0052239776f + x2 * -0.0008548325f)))));
  return ax < 0.5f ? near : far;
}

}  // namespace openclip
