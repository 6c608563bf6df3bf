// Shared by the addon's source files: argument unpacking for N-API callbacks, small result
// helpers, and the one matrix-product entry point (OpenBLAS or oneDNN, whichever is selected).
#pragma once
#include <node_api.h>
#include <stdint.h>
#include <string>
#include <vector>

namespace openclip {

#define VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// ---------------------------------------------------------------------------------------
// N-API helpers
#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, nullptr, "openclip_native: " #call);      \
      return nullptr;                                                 \
    }                                                                 \
  } while (0)

struct Args {
  napi_env env;
  size_t argc = 16;
  napi_value argv[16];
  bool ok = true;
  Args(napi_env e, napi_callback_info info, size_t want) : env(e) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
      napi_throw_type_error(env, nullptr, "openclip_native: wrong number of arguments");
      ok = false;
    }
  }
  bool isNull(size_t i) {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    return t == napi_null || t == napi_undefined;
  }
  // Raw data of a typed array (any 4-byte element type); null for null/undefined.
  void* ptr(size_t i, size_t* len = nullptr) {
    if (!ok) return nullptr;
    if (isNull(i)) {
      if (len) *len = 0;
      return nullptr;
    }
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, argv[i], &type, &length, &data, &ab, &off) != napi_ok) {
      napi_throw_type_error(env, nullptr, "openclip_native: expected a typed array");
      ok = false;
      return nullptr;
    }
    if (len) *len = length;
    return data;
  }
  float* f32(size_t i) { return static_cast<float*>(ptr(i)); }
  // Float data of typed array i, which must hold exactly `want` elements (at least, with atLeast);
  // otherwise a RangeError naming `what`, and null.
  float* floats(size_t i, int64_t want, const char* what, bool atLeast = false) {
    size_t n = 0;
    float* p = static_cast<float*>(ptr(i, &n));
    if (!ok) return nullptr;
    const int64_t got = static_cast<int64_t>(n);
    if (!p || (atLeast ? got < want : got != want)) {
      std::string m = std::string("openclip_native: ") + what + " has " + std::to_string(n) + " elements, expected " + (atLeast ? "at least " : "") +
                      std::to_string(want);
      napi_throw_range_error(env, nullptr, m.c_str());
      ok = false;
      return nullptr;
    }
    return p;
  }
  // The strings of array i (entries that are not strings are skipped).
  std::vector<std::string> strings(size_t i) {
    std::vector<std::string> out;
    uint32_t n = 0;
    if (!ok || napi_get_array_length(env, argv[i], &n) != napi_ok) {
      napi_throw_type_error(env, nullptr, "openclip_native: expected an array of strings");
      ok = false;
      return out;
    }
    for (uint32_t k = 0; k < n; k++) {
      napi_value e;
      char buf[1024];
      size_t len;
      napi_get_element(env, argv[i], k, &e);
      if (napi_get_value_string_utf8(env, e, buf, sizeof buf, &len) == napi_ok) out.emplace_back(buf, len);
    }
    return out;
  }
  double num(size_t i) {
    double v = 0;
    if (ok && napi_get_value_double(env, argv[i], &v) != napi_ok) {
      napi_throw_type_error(env, nullptr, "openclip_native: expected a number");
      ok = false;
    }
    return v;
  }
  int64_t i64(size_t i) { return static_cast<int64_t>(num(i)); }
  bool flag(size_t i) {
    bool v = false;
    if (ok && napi_get_value_bool(env, argv[i], &v) != napi_ok) {
      napi_throw_type_error(env, nullptr, "openclip_native: expected a boolean");
      ok = false;
    }
    return v;
  }
  std::vector<int64_t> ints(size_t i) {
    std::vector<int64_t> out;
    uint32_t n = 0;
    if (!ok || napi_get_array_length(env, argv[i], &n) != napi_ok) {
      napi_throw_type_error(env, nullptr, "openclip_native: expected an array of integers");
      ok = false;
      return out;
    }
    for (uint32_t k = 0; k < n; k++) {
      napi_value e;
      double v;
      napi_get_element(env, argv[i], k, &e);
      napi_get_value_double(env, e, &v);
      out.push_back(static_cast<int64_t>(v));
    }
    return out;
  }
};

inline napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

inline void setStr(napi_env env, napi_value obj, const char* key, const std::string& v) {
  napi_value s;
  napi_create_string_utf8(env, v.c_str(), v.size(), &s);
  napi_set_named_property(env, obj, key, s);
}


// A per-thread buffer of at least `floats` floats, kept and reused across calls (kernels use it
// within one call only).
inline float* scratch(int64_t floats) {
  static thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < floats) buf.resize(static_cast<size_t>(floats));
  return buf.data();
}

// Row-major C = op(A)·op(B) + beta·C on the selected library. False when no library is loaded
// or the library rejected the arguments.
bool gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
          float* C, int64_t ldc);

// Convolution kernels (conv.cc)
napi_value Conv2dForward(napi_env env, napi_callback_info info);
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info);
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info);

// Depthwise convolution kernels (depthwise.cc)
napi_value DepthwiseConv2dForward(napi_env env, napi_callback_info info);
napi_value DepthwiseConv2dBackpropInput(napi_env env, napi_callback_info info);
napi_value DepthwiseConv2dBackpropFilter(napi_env env, napi_callback_info info);

// Batch normalisation kernels (batch_norm.cc)
napi_value BatchNormFwd(napi_env env, napi_callback_info info);
napi_value BatchNormBwd(napi_env env, napi_callback_info info);

// Attention core (attention.cc)
napi_value AttentionFwd(napi_env env, napi_callback_info info);
napi_value AttentionBwd(napi_env env, napi_callback_info info);

// Elementwise loops (elementwise.cc)
napi_value BinaryRun(napi_env env, napi_callback_info info);
napi_value Relu(napi_env env, napi_callback_info info);
napi_value Step(napi_env env, napi_callback_info info);
napi_value ReluGrad(napi_env env, napi_callback_info info);

// flock(2) locks on descriptors Node opened (file_lock.cc)
napi_value FlockTry(napi_env env, napi_callback_info info);
napi_value FlockRelease(napi_env env, napi_callback_info info);

}  // namespace openclip
