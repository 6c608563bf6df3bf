// N-API addon for @openclip/engine: matrix products through OpenBLAS's cblas_sgemm, or through
// oneDNN's dnnl_sgemm when that library is present (both are dlopen()ed at run time, so a
// machine without them still loads the addon and the engine can fall back), plus fused single-pass CPU kernels (transpose, sum, exp, erf,
// layer norm, GELU, AdamW) that work directly on the memory of TensorFlow.js tensors.
#include "addon.h"
#include "vmath.h"
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <algorithm>
#include <string>
#include <vector>

namespace openclip {
namespace {

// ---------------------------------------------------------------------------------------
// OpenBLAS, resolved at run time
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char* (*corename_fn)(void);
typedef char* (*config_fn)(void);

void* g_lib = nullptr;
sgemm_fn g_sgemm = nullptr;
set_threads_fn g_set_threads = nullptr;
get_threads_fn g_get_threads = nullptr;
corename_fn g_corename = nullptr;
config_fn g_config = nullptr;
std::string g_lib_name;

// oneDNN (optional): row-major dnnl_sgemm, and OpenMP's thread count, which oneDNN's OpenMP
// build reads on every call.
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
                             int64_t);
struct dnnl_version_info {
  int major, minor, patch;
  const char* hash;
  unsigned cpu_runtime, gpu_runtime;
};
typedef const dnnl_version_info* (*dnnl_version_fn)(void);
typedef void (*omp_set_fn)(int);
const unsigned kDnnlRuntimeSeq = 1, kDnnlRuntimeOmp = 2;

dnnl_sgemm_fn g_dnnl_sgemm = nullptr;
omp_set_fn g_omp_set = nullptr;
bool g_use_dnnl = false;
int g_threads = 1;
int g_omp_current = 1;  // the OpenMP thread count last set
// Products below this many multiply-adds run on one thread (fork/join costs more than it saves).
const double kParallelMacs = 4.0e6;
std::string g_dnnl_name;

const int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

VEC_CLONES void exp_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = exp_f(x[i]);
}

VEC_CLONES void erf_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = erf_f(x[i]);
}

VEC_CLONES void gelu_fwd_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erf_f(x[i] * 0.70710678118654752f));
}

VEC_CLONES void gelu_bwd_loop(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    float cdf = 0.5f * (1.0f + erf_f(v * 0.70710678118654752f));
    float pdf = 0.3989422804014327f * exp_f(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

// ---------------------------------------------------------------------------------------
// Bindings

// blasInit(candidates: string[]) -> { ok, lib, corename, config, error }
void noteError(std::string& errors, const std::string& why) { errors += (errors.empty() ? "" : "; ") + why; }

// dlopen()s a library, or notes why it did not load and returns null.
void* openLibrary(const std::string& name, std::string& errors) {
  void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* why = dlerror();
    noteError(errors, why ? why : name);
  }
  return h;
}

napi_value BlasInit(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  if (!a.ok) return nullptr;
  napi_value result;
  CHECK(napi_create_object(env, &result));
  std::string errors;
  if (!g_lib) {
    for (const std::string& name : a.strings(0)) {
      void* h = openLibrary(name, errors);
      if (!h) continue;
      sgemm_fn s = reinterpret_cast<sgemm_fn>(dlsym(h, "cblas_sgemm"));
      if (!s) {
        noteError(errors, name + ": no cblas_sgemm");
        dlclose(h);
        continue;
      }
      g_lib = h;
      g_sgemm = s;
      g_set_threads = reinterpret_cast<set_threads_fn>(dlsym(h, "openblas_set_num_threads"));
      g_get_threads = reinterpret_cast<get_threads_fn>(dlsym(h, "openblas_get_num_threads"));
      g_corename = reinterpret_cast<corename_fn>(dlsym(h, "openblas_get_corename"));
      g_config = reinterpret_cast<config_fn>(dlsym(h, "openblas_get_config"));
      g_lib_name = name;
      break;
    }
  }
  napi_value ok;
  napi_get_boolean(env, g_lib != nullptr, &ok);
  napi_set_named_property(env, result, "ok", ok);
  if (g_lib) {
    setStr(env, result, "lib", g_lib_name);
    setStr(env, result, "corename", g_corename ? std::string(g_corename()) : std::string("unknown"));
    setStr(env, result, "config", g_config ? std::string(g_config()) : std::string(""));
  } else {
    setStr(env, result, "error", errors);
  }
  return result;
}

// gemmInit(candidates: string[]) -> { ok, lib, version, error }: loads oneDNN's dnnl_sgemm.
// Only a sequential or OpenMP build is taken, because only those follow setThreads.
napi_value GemmInit(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  if (!a.ok) return nullptr;
  napi_value result;
  CHECK(napi_create_object(env, &result));
  std::string errors;
  if (!g_dnnl_sgemm) {
    for (const std::string& name : a.strings(0)) {
      void* h = openLibrary(name, errors);
      if (!h) continue;
      dnnl_sgemm_fn s = reinterpret_cast<dnnl_sgemm_fn>(dlsym(h, "dnnl_sgemm"));
      dnnl_version_fn ver = reinterpret_cast<dnnl_version_fn>(dlsym(h, "dnnl_version"));
      const dnnl_version_info* v = ver ? ver() : nullptr;
      std::string why;
      if (!s || !v) why = "no dnnl_sgemm/dnnl_version";
      else if (v->cpu_runtime != kDnnlRuntimeOmp && v->cpu_runtime != kDnnlRuntimeSeq)
        why = "CPU runtime " + std::to_string(v->cpu_runtime) + " is neither sequential nor OpenMP";
      omp_set_fn set = nullptr;
      if (why.empty() && v->cpu_runtime == kDnnlRuntimeOmp) {
        void* omp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
        if (!omp) omp = dlopen("libomp.so", RTLD_NOW | RTLD_NOLOAD);
        set = omp ? reinterpret_cast<omp_set_fn>(dlsym(omp, "omp_set_num_threads")) : nullptr;
        if (!set) why = "OpenMP build, but omp_set_num_threads not found";
      }
      if (!why.empty()) {
        noteError(errors, name + ": " + why);
        dlclose(h);
        continue;
      }
      g_dnnl_sgemm = s;
      g_omp_set = set;
      if (g_omp_set) g_omp_set(g_omp_current = g_threads);
      g_dnnl_name = name + " (oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                    std::to_string(v->patch) + (v->cpu_runtime == kDnnlRuntimeOmp ? ", OpenMP" : ", sequential") + ")";
      break;
    }
  }
  napi_value ok;
  napi_get_boolean(env, g_dnnl_sgemm != nullptr, &ok);
  napi_set_named_property(env, result, "ok", ok);
  if (g_dnnl_sgemm) setStr(env, result, "lib", g_dnnl_name);
  else setStr(env, result, "error", errors);
  return result;
}

// useGemm(onednn: boolean) -> boolean: which library sgemm calls (oneDNN only once loaded).
napi_value UseGemm(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  if (!a.ok) return nullptr;
  g_use_dnnl = a.flag(0) && g_dnnl_sgemm != nullptr;
  napi_value r;
  napi_get_boolean(env, g_use_dnnl, &r);
  return r;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  if (!a.ok) return nullptr;
  int n = static_cast<int>(a.i64(0));
  if (g_set_threads && n > 0) g_set_threads(n);
  if (n > 0) g_threads = n;
  if (g_omp_set && n > 0) g_omp_set(g_omp_current = n);
  napi_value r;
  napi_create_int32(env, g_get_threads ? g_get_threads() : 0, &r);
  return r;
}

// sgemm(ta, tb, batch, M, N, K, A, strideA, B, strideB, C, strideC, bias|null)
// Row-major C[b] = op(A[b])·op(B[b]) (+ bias[N] on every row); stride 0 broadcasts.
napi_value Sgemm(napi_env env, napi_callback_info info) {
  Args a(env, info, 13);
  if (!a.ok) return nullptr;
  if (!g_sgemm) {
    napi_throw_error(env, nullptr, "openclip_native: OpenBLAS is not loaded (call blasInit first)");
    return nullptr;
  }
  bool ta = a.flag(0), tb = a.flag(1);
  int64_t batch = a.i64(2), M = a.i64(3), N = a.i64(4), K = a.i64(5);
  const float* A = a.f32(6);
  int64_t sA = a.i64(7);
  const float* B = a.f32(8);
  int64_t sB = a.i64(9);
  float* C = a.f32(10);
  int64_t sC = a.i64(11);
  const float* bias = a.f32(12);
  if (!a.ok) return nullptr;
  float beta = 0.0f;
  if (bias) {
    for (int64_t b = 0; b < batch; b++)
      for (int64_t m = 0; m < M; m++) memcpy(C + b * sC + m * N, bias, sizeof(float) * N);
    beta = 1.0f;
  }
  if (K == 0) {
    if (!bias) memset(C, 0, sizeof(float) * (batch > 1 ? sC * batch : M * N));
    return undef(env);
  }
  int64_t lda = ta ? M : K, ldb = tb ? K : N;
  bool ok = true;
  if (batch > 1 && sB == 0 && !ta && sA == M * K && sC == M * N) {
    ok = gemm(ta, tb, batch * M, N, K, A, lda, B, ldb, beta, C, N);  // shared right operand: one tall product
  } else {
    for (int64_t b = 0; b < batch && ok; b++) ok = gemm(ta, tb, M, N, K, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, N);
  }
  if (!ok) {
    napi_throw_error(env, nullptr, "openclip_native: the GEMM library rejected its arguments");
    return nullptr;
  }
  return undef(env);
}

// Collapses a transpose to the fewest dims: drops size-1 axes and merges runs that stay adjacent.
void collapsePerm(const std::vector<int64_t>& shape, const std::vector<int64_t>& perm, std::vector<int64_t>& s, std::vector<int64_t>& p) {
  std::vector<int64_t> keep;  // input axes of size > 1
  std::vector<int64_t> remap(shape.size(), -1);
  for (size_t i = 0; i < shape.size(); i++)
    if (shape[i] != 1) {
      remap[i] = static_cast<int64_t>(keep.size());
      keep.push_back(shape[i]);
    }
  std::vector<int64_t> p1;
  for (int64_t ax : perm)
    if (remap[ax] >= 0) p1.push_back(remap[ax]);
  // merge input axes i,i+1 that appear consecutively in the permutation
  std::vector<int64_t> groupOf(keep.size());
  std::vector<int64_t> groupSize;
  std::vector<int64_t> groupStart;
  for (size_t k = 0; k < p1.size(); k++) {
    if (k > 0 && p1[k] == p1[k - 1] + 1) {
      groupSize.back() *= keep[p1[k]];
      groupOf[p1[k]] = static_cast<int64_t>(groupSize.size()) - 1;
    } else {
      groupSize.push_back(keep[p1[k]]);
      groupStart.push_back(p1[k]);
      groupOf[p1[k]] = static_cast<int64_t>(groupSize.size()) - 1;
    }
  }
  // groups in input order
  std::vector<int64_t> order(groupStart.size());
  for (size_t g = 0; g < order.size(); g++) order[g] = static_cast<int64_t>(g);
  std::vector<int64_t> byInput = order;
  std::sort(byInput.begin(), byInput.end(), [&](int64_t x, int64_t y) { return groupStart[x] < groupStart[y]; });
  std::vector<int64_t> inputPos(order.size());
  for (size_t i = 0; i < byInput.size(); i++) inputPos[byInput[i]] = static_cast<int64_t>(i);
  s.clear();
  p.clear();
  for (size_t i = 0; i < byInput.size(); i++) s.push_back(groupSize[byInput[i]]);
  for (size_t g = 0; g < order.size(); g++) p.push_back(inputPos[g]);
}

template <typename T>
void transposeImpl(const T* x, T* y, const std::vector<int64_t>& shape, const std::vector<int64_t>& perm) {
  size_t r = shape.size();
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (r <= 1) {
    memcpy(y, x, sizeof(T) * total);
    return;
  }
  std::vector<int64_t> inStride(r);
  inStride[r - 1] = 1;
  for (size_t i = r - 1; i-- > 0;) inStride[i] = inStride[i + 1] * shape[i + 1];
  std::vector<int64_t> os(r), is(r);
  for (size_t i = 0; i < r; i++) {
    os[i] = shape[perm[i]];
    is[i] = inStride[perm[i]];
  }
  // last two output dims are done as a tiled 2-D copy; the rest by an odometer
  int64_t R = os[r - 2], C = os[r - 1], sR = is[r - 2], sC = is[r - 1];
  int64_t outer = total / (R * C);
  std::vector<int64_t> idx(r - 2, 0);
  int64_t base = 0;
  T* out = y;
  const int64_t TILE = 32;
  for (int64_t o = 0; o < outer; o++) {
    const T* src = x + base;
    if (sC == 1) {
      for (int64_t i = 0; i < R; i++) memcpy(out + i * C, src + i * sR, sizeof(T) * C);
    } else {
      for (int64_t i0 = 0; i0 < R; i0 += TILE)
        for (int64_t j0 = 0; j0 < C; j0 += TILE) {
          int64_t i1 = i0 + TILE < R ? i0 + TILE : R, j1 = j0 + TILE < C ? j0 + TILE : C;
          for (int64_t i = i0; i < i1; i++)
            for (int64_t j = j0; j < j1; j++) out[i * C + j] = src[i * sR + j * sC];
        }
    }
    out += R * C;
    for (int64_t d = static_cast<int64_t>(r) - 3; d >= 0; d--) {
      idx[d]++;
      base += is[d];
      if (idx[d] < os[d]) break;
      base -= is[d] * os[d];
      idx[d] = 0;
    }
  }
}

// transpose(x, shape, perm, y): any 4-byte element type
napi_value Transpose(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  if (!a.ok) return nullptr;
  const uint32_t* x = static_cast<const uint32_t*>(a.ptr(0));
  std::vector<int64_t> shape = a.ints(1), perm = a.ints(2);
  uint32_t* y = static_cast<uint32_t*>(a.ptr(3));
  if (!a.ok) return nullptr;
  std::vector<int64_t> s, p;
  collapsePerm(shape, perm, s, p);
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (s.empty()) {
    if (total) memcpy(y, x, 4 * total);
  } else {
    transposeImpl(x, y, s, p);
  }
  return undef(env);
}

VEC_CLONES void addInto(float* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] += x[i];
}

VEC_CLONES float sumRun(const float* x, int64_t n) {
  // 8 partial sums: vectorises and keeps the rounding error close to pairwise summation
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += x[i + k];
  float s = 0;
  for (; i < n; i++) s += x[i];
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void sumRec(const float* x, float* out, const std::vector<int64_t>& s, const std::vector<bool>& red, const std::vector<int64_t>& inStr,
            const std::vector<int64_t>& outStr, size_t level) {
  size_t r = s.size();
  if (level == r - 1) {
    if (red[level]) out[0] += sumRun(x, s[level]);
    else addInto(out, x, s[level]);
    return;
  }
  for (int64_t i = 0; i < s[level]; i++)
    sumRec(x + i * inStr[level], out + (red[level] ? 0 : i * outStr[level]), s, red, inStr, outStr, level + 1);
}

// reduceSum(x, shape, axes, y): y has the kept axes in order
napi_value ReduceSum(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  if (!a.ok) return nullptr;
  const float* x = a.f32(0);
  std::vector<int64_t> shape = a.ints(1), axes = a.ints(2);
  float* y = a.f32(3);
  if (!a.ok) return nullptr;
  std::vector<bool> isRed(shape.size(), false);
  for (int64_t ax : axes) isRed[ax] = true;
  std::vector<int64_t> s;
  std::vector<bool> red;
  int64_t outSize = 1, total = 1;
  for (size_t i = 0; i < shape.size(); i++) {
    total *= shape[i];
    if (!isRed[i]) outSize *= shape[i];
    if (shape[i] == 1) continue;
    if (!s.empty() && red.back() == isRed[i]) s.back() *= shape[i];
    else {
      s.push_back(shape[i]);
      red.push_back(isRed[i]);
    }
  }
  memset(y, 0, sizeof(float) * outSize);
  if (total == 0) return undef(env);
  if (s.empty()) {
    y[0] = x[0];
    return undef(env);
  }
  size_t r = s.size();
  std::vector<int64_t> inStr(r), outStr(r);
  int64_t is = 1, os = 1;
  for (size_t i = r; i-- > 0;) {
    inStr[i] = is;
    is *= s[i];
    outStr[i] = red[i] ? 0 : os;
    if (!red[i]) os *= s[i];
  }
  sumRec(x, y, s, red, inStr, outStr, 0);
  return undef(env);
}

napi_value Exp(napi_env env, napi_callback_info info) {
  Args a(env, info, 2);
  if (!a.ok) return nullptr;
  size_t n;
  const float* x = static_cast<const float*>(a.ptr(0, &n));
  float* y = a.f32(1);
  if (!a.ok) return nullptr;
  exp_loop(x, y, static_cast<int64_t>(n));
  return undef(env);
}

napi_value Erf(napi_env env, napi_callback_info info) {
  Args a(env, info, 2);
  if (!a.ok) return nullptr;
  size_t n;
  const float* x = static_cast<const float*>(a.ptr(0, &n));
  float* y = a.f32(1);
  if (!a.ok) return nullptr;
  erf_loop(x, y, static_cast<int64_t>(n));
  return undef(env);
}

napi_value GeluFwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 2);
  if (!a.ok) return nullptr;
  size_t n;
  const float* x = static_cast<const float*>(a.ptr(0, &n));
  float* y = a.f32(1);
  if (!a.ok) return nullptr;
  gelu_fwd_loop(x, y, static_cast<int64_t>(n));
  return undef(env);
}

napi_value GeluBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  if (!a.ok) return nullptr;
  size_t n;
  const float* dy = static_cast<const float*>(a.ptr(0, &n));
  const float* x = a.f32(1);
  float* dx = a.f32(2);
  if (!a.ok) return nullptr;
  gelu_bwd_loop(dy, x, dx, static_cast<int64_t>(n));
  return undef(env);
}

// layerNormFwd(x, gamma|null, beta|null, rows, cols, eps, y, mean, rstd)
VEC_CLONES void lnRowFwd(const float* x, const float* g, const float* b, int64_t C, float eps, float* y, float* meanOut, float* rstdOut) {
  float s = 0;
  for (int64_t j = 0; j < C; j++) s += x[j];
  float mean = s / C;
  float v = 0;
  for (int64_t j = 0; j < C; j++) {
    float d = x[j] - mean;
    v += d * d;
  }
  float rstd = 1.0f / sqrtf(v / C + eps);
  for (int64_t j = 0; j < C; j++) {
    float z = (x[j] - mean) * rstd;
    if (g) z *= g[j];
    if (b) z += b[j];
    y[j] = z;
  }
  *meanOut = mean;
  *rstdOut = rstd;
}

napi_value LayerNormFwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 9);
  if (!a.ok) return nullptr;
  const float* x = a.f32(0);
  const float* g = a.f32(1);
  const float* b = a.f32(2);
  int64_t R = a.i64(3), C = a.i64(4);
  float eps = static_cast<float>(a.num(5));
  float* y = a.f32(6);
  float* mean = a.f32(7);
  float* rstd = a.f32(8);
  if (!a.ok) return nullptr;
  for (int64_t i = 0; i < R; i++) lnRowFwd(x + i * C, g, b, C, eps, y + i * C, mean + i, rstd + i);
  return undef(env);
}

VEC_CLONES void lnRowBwd(const float* dy, const float* x, float mean, float rstd, const float* g, int64_t C, float* dx, float* dg, float* db) {
  // xhat = (x-mean)*rstd; dxhat = dy*g; dx = rstd*(dxhat - mean(dxhat) - xhat*mean(dxhat*xhat))
  float s1 = 0, s2 = 0;
  for (int64_t j = 0; j < C; j++) {
    float xh = (x[j] - mean) * rstd;
    float dxh = g ? dy[j] * g[j] : dy[j];
    s1 += dxh;
    s2 += dxh * xh;
    if (dg) dg[j] += dy[j] * xh;
    if (db) db[j] += dy[j];
  }
  s1 /= C;
  s2 /= C;
  for (int64_t j = 0; j < C; j++) {
    float xh = (x[j] - mean) * rstd;
    float dxh = g ? dy[j] * g[j] : dy[j];
    dx[j] = rstd * (dxh - s1 - xh * s2);
  }
}

// layerNormBwd(dy, x, mean, rstd, gamma|null, rows, cols, dx, dgamma|null, dbeta|null)
napi_value LayerNormBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  if (!a.ok) return nullptr;
  const float* dy = a.f32(0);
  const float* x = a.f32(1);
  const float* mean = a.f32(2);
  const float* rstd = a.f32(3);
  const float* g = a.f32(4);
  int64_t R = a.i64(5), C = a.i64(6);
  float* dx = a.f32(7);
  float* dg = a.f32(8);
  float* db = a.f32(9);
  if (!a.ok) return nullptr;
  if (dg) memset(dg, 0, sizeof(float) * C);
  if (db) memset(db, 0, sizeof(float) * C);
  for (int64_t i = 0; i < R; i++) lnRowBwd(dy + i * C, x + i * C, mean[i], rstd[i], g, C, dx + i * C, dg, db);
  return undef(env);
}

VEC_CLONES void adamwLoop(const float* p, const float* g, const float* m, const float* v, float* po, float* mo, float* vo, int64_t n, float lr,
                          float b1, float b2, float eps, float decay, float stepSize, float bc2sqrt) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    float denom = sqrtf(vi) / bc2sqrt + eps;
    po[i] = p[i] * decay - stepSize * mi / denom;
    mo[i] = mi;
    vo[i] = vi;
  }
}

// adamw(p, g, m, v, pOut, mOut, vOut, lr, beta1, beta2, eps, weightDecay, step)
// PyTorch AdamW: decoupled decay p *= 1 - lr*wd, then the bias-corrected Adam update.
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args a(env, info, 13);
  if (!a.ok) return nullptr;
  size_t n;
  const float* p = static_cast<const float*>(a.ptr(0, &n));
  const float* g = a.f32(1);
  const float* m = a.f32(2);
  const float* v = a.f32(3);
  float* po = a.f32(4);
  float* mo = a.f32(5);
  float* vo = a.f32(6);
  double lr = a.num(7), b1 = a.num(8), b2 = a.num(9), eps = a.num(10), wd = a.num(11), step = a.num(12);
  if (!a.ok) return nullptr;
  double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
  adamwLoop(p, g, m, v, po, mo, vo, static_cast<int64_t>(n), static_cast<float>(lr), static_cast<float>(b1), static_cast<float>(b2),
            static_cast<float>(eps), static_cast<float>(1.0 - lr * wd), static_cast<float>(lr / bc1), static_cast<float>(sqrt(bc2)));
  return undef(env);
}

napi_value Init(napi_env env, napi_value exports) {
  struct {
    const char* name;
    napi_callback fn;
  } fns[] = {
      {"blasInit", BlasInit}, {"gemmInit", GemmInit}, {"useGemm", UseGemm}, {"setThreads", SetThreads}, {"sgemm", Sgemm},           {"transpose", Transpose},
      {"reduceSum", ReduceSum}, {"exp", Exp},             {"erf", Erf},               {"geluFwd", GeluFwd},
      {"geluBwd", GeluBwd},   {"layerNormFwd", LayerNormFwd}, {"layerNormBwd", LayerNormBwd}, {"adamw", AdamW},
      {"conv2dForward", Conv2dForward}, {"conv2dBackpropInput", Conv2dBackpropInput}, {"conv2dBackpropFilter", Conv2dBackpropFilter},
      {"depthwiseConv2dForward", DepthwiseConv2dForward}, {"depthwiseConv2dBackpropInput", DepthwiseConv2dBackpropInput},
      {"depthwiseConv2dBackpropFilter", DepthwiseConv2dBackpropFilter},
      {"batchNormFwd", BatchNormFwd}, {"batchNormBwd", BatchNormBwd},
      {"attentionFwd", AttentionFwd}, {"attentionBwd", AttentionBwd},
      {"binaryRun", BinaryRun}, {"relu", Relu}, {"step", Step}, {"reluGrad", ReluGrad},
      {"flockTry", FlockTry}, {"flockRelease", FlockRelease},
  };
  for (auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}

}  // namespace

bool gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
          float* C, int64_t ldc) {
  if (g_use_dnnl) {
    // A small product finishes before a second OpenMP thread would have started: run it on this
    // one (oneDNN reads the OpenMP thread count on every call).
    if (g_omp_set && g_threads > 1) {
      const int want = static_cast<double>(M) * N * K < kParallelMacs ? 1 : g_threads;
      if (want != g_omp_current) g_omp_set(g_omp_current = want);
    }
    return g_dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc) == 0;
  }
  if (!g_sgemm) return false;
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX) return false;
  g_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f, A,
          static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
  return true;
}

}  // namespace openclip

NAPI_MODULE(NODE_GYP_MODULE_NAME, openclip::Init)
