// N-API addon for @openclip/data: JPEG decoding with the system libjpeg(-turbo) — the library
// Pillow decodes with, same defaults (integer slow DCT, fancy upsampling) — straight into a
// caller's buffer, the Pillow resampling arithmetic of src/image/resample.ts in C++ (the same
// 22-bit fixed-point coefficients, computed and passed in by the TypeScript side, so both paths
// sum the same integers), and the ToTensor/Normalize table lookup into planar float32.
// Every function writes into memory the caller owns; nothing is allocated per image here
// except the resampler's row buffer, which is kept per thread.
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <vector>

#ifndef OPENCLIP_DATA_NO_JPEG
#include <jpeglib.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OCD_X86 1
#endif

namespace {

// ---------------------------------------------------------------------------------------
// N-API helpers

struct Args {
  napi_env env;
  size_t argc = 20;
  napi_value argv[20];
  bool ok = true;
  Args(napi_env e, napi_callback_info info, size_t want) : env(e) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
      napi_throw_type_error(env, nullptr, "openclip_data_native: wrong number of arguments");
      ok = false;
    }
  }
  bool isNull(size_t i) {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    return t == napi_null || t == napi_undefined;
  }
  // Data and element count of a typed array of the given type; false (with a JS error) otherwise.
  template <typename T>
  bool typed(size_t i, napi_typedarray_type want, T** data, size_t* length, const char* what) {
    bool is = false;
    napi_is_typedarray(env, argv[i], &is);
    napi_typedarray_type type;
    void* p = nullptr;
    size_t len = 0;
    if (!is || napi_get_typedarray_info(env, argv[i], &type, &len, &p, nullptr, nullptr) != napi_ok || type != want) {
      char msg[160];
      snprintf(msg, sizeof msg, "openclip_data_native: %s must be a %s", what,
               want == napi_uint8_array ? "Uint8Array" : want == napi_int32_array ? "Int32Array" : "Float32Array");
      napi_throw_type_error(env, nullptr, msg);
      return false;
    }
    *data = static_cast<T*>(p);
    *length = len;
    return true;
  }
  bool i32(size_t i, int32_t* v) {
    if (napi_get_value_int32(env, argv[i], v) != napi_ok) {
      napi_throw_type_error(env, nullptr, "openclip_data_native: expected a number");
      return false;
    }
    return true;
  }
  bool f64(size_t i, double* v) {
    if (napi_get_value_double(env, argv[i], v) != napi_ok) {
      napi_throw_type_error(env, nullptr, "openclip_data_native: expected a number");
      return false;
    }
    return true;
  }
};

napi_value Int(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

napi_value Throw(napi_env env, const char* msg) {
  napi_throw_range_error(env, nullptr, msg);
  return nullptr;
}

bool CpuHasAvx2() {
#if defined(OCD_X86) && defined(__GNUC__)
  static const bool v = __builtin_cpu_supports("avx2");
  return v;
#else
  return false;
#endif
}

// Tests switch the SIMD code off to check the portable code on the same machine.
bool g_simd = true;

bool HasAvx2() { return g_simd && CpuHasAvx2(); }

// ---------------------------------------------------------------------------------------
// JPEG

#ifndef OPENCLIP_DATA_NO_JPEG
struct ErrorMgr {
  jpeg_error_mgr pub;
  jmp_buf jump;
  int warnings;
};

void OnError(j_common_ptr cinfo) {
  ErrorMgr* e = reinterpret_cast<ErrorMgr*>(cinfo->err);
  longjmp(e->jump, 1);
}

void OnMessage(j_common_ptr cinfo, int level) {
  // Level -1 is a warning (corrupt data, premature end): the caller then hands the file to the
  // general decoder, which decides (sharp fails on truncation, as PIL does).
  if (level < 0) reinterpret_cast<ErrorMgr*>(cinfo->err)->warnings++;
}

void OnOutput(j_common_ptr) {}

// Status codes shared with src/image/native.ts.
enum { kOk = 0, kUnsupported = 1, kCorrupt = 2, kMismatch = 3 };

// Decodes into dst (width*height*channels bytes) when the file is an 8-bit greyscale (1 band)
// or YCbCr/RGB (3 bands) JPEG of exactly that size; returns a status.
int DecodeJpegInto(const uint8_t* bytes, size_t size, uint8_t* dst, size_t dstLen, int width, int height, int channels) {
  jpeg_decompress_struct cinfo;
  ErrorMgr err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = OnError;
  err.pub.emit_message = OnMessage;
  err.pub.output_message = OnOutput;
  err.warnings = 0;
  // Everything the jump can skip is plain data; the decompressor is destroyed on both paths.
  volatile int status = kOk;
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return kCorrupt;
  }
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(bytes), static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const int comps = cinfo.num_components;
  if (cinfo.data_precision != 8) {
    status = kUnsupported;
  } else if (comps == 1 && cinfo.jpeg_color_space == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (comps == 3 && (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB)) {
    cinfo.out_color_space = JCS_RGB;
  } else {
    status = kUnsupported;
  }
  if (status == kOk && (static_cast<int>(cinfo.image_width) != width || static_cast<int>(cinfo.image_height) != height ||
                        (comps == 1 ? 1 : 3) != channels || dstLen != static_cast<size_t>(width) * height * channels)) {
    status = kMismatch;
  }
  if (status != kOk) {
    jpeg_destroy_decompress(&cinfo);
    return status;
  }
  // libjpeg's defaults are what Pillow uses: JDCT_ISLOW, fancy upsampling, no scaling.
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  const size_t stride = static_cast<size_t>(width) * channels;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[8];
    const int n = static_cast<int>(cinfo.output_height - cinfo.output_scanline) < 8 ? static_cast<int>(cinfo.output_height - cinfo.output_scanline) : 8;
    for (int i = 0; i < n; i++) rows[i] = dst + (cinfo.output_scanline + i) * stride;
    if (jpeg_read_scanlines(&cinfo, rows, n) == 0) break;
  }
  if (cinfo.output_scanline < cinfo.output_height) status = kCorrupt;
  else jpeg_finish_decompress(&cinfo);
  if (err.warnings > 0) status = kCorrupt;
  jpeg_destroy_decompress(&cinfo);
  return status;
}
#endif

// decodeJpeg(bytes: Uint8Array, width, height, channels, dst: Uint8Array) -> status
napi_value DecodeJpeg(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  if (!a.ok) return nullptr;
  uint8_t* bytes;
  size_t size;
  uint8_t* dst;
  size_t dstLen;
  int32_t w, h, c;
  if (!a.typed(0, napi_uint8_array, &bytes, &size, "bytes") || !a.i32(1, &w) || !a.i32(2, &h) || !a.i32(3, &c) ||
      !a.typed(4, napi_uint8_array, &dst, &dstLen, "dst")) {
    return nullptr;
  }
#ifdef OPENCLIP_DATA_NO_JPEG
  (void)bytes; (void)size; (void)dst; (void)dstLen; (void)w; (void)h; (void)c;
  return Int(env, 1);
#else
  if (w <= 0 || h <= 0) return Int(env, kMismatch);
  return Int(env, DecodeJpegInto(bytes, size, dst, dstLen, w, h, c));
#endif
}

// ---------------------------------------------------------------------------------------
// Pillow resampling (8-bit bands): horizontal pass into an 8-bit clamped intermediate, then the
// vertical pass, each output value = clip8((1 << 21) + sum(pixel * coeff) >> 22). The sums are
// int32 and never overflow (|coeff| sums stay below 2^23 * 1.3), so any summation order gives
// Pillow's integers exactly.

const int kPrecisionBits = 22;
const int32_t kHalf = 1 << (kPrecisionBits - 1);

inline uint8_t Clip8(int32_t v) {
  v >>= kPrecisionBits;
  return v < 0 ? 0 : v > 255 ? 255 : static_cast<uint8_t>(v);
}

struct Axis {
  const int32_t* bounds;  // [first, count] per output index
  const int32_t* fixed;   // ksize coefficients per output index
  int ksize;
};

// Rows [y0, y0 + rows) of src (w x h x C), output columns [left, left + tw) of the horizontal pass.
template <int C>
inline __attribute__((always_inline)) void HorizontalScalar(const uint8_t* src, int w, int y0, int rows, const Axis& ax, int left, int tw, uint8_t* out) {
  const size_t stride = static_cast<size_t>(w) * C;
  for (int y = 0; y < rows; y++) {
    const uint8_t* row = src + (y0 + y) * stride;
    uint8_t* o = out + static_cast<size_t>(y) * tw * C;
    for (int xx = left; xx < left + tw; xx++) {
      const int xmin = ax.bounds[xx * 2];
      const int n = ax.bounds[xx * 2 + 1];
      const int32_t* k = ax.fixed + static_cast<size_t>(xx) * ax.ksize;
      int32_t s[C];
      for (int c = 0; c < C; c++) s[c] = kHalf;
      const uint8_t* p = row + xmin * C;
      for (int x = 0; x < n; x++, p += C) {
        for (int c = 0; c < C; c++) s[c] += p[c] * k[x];
      }
      for (int c = 0; c < C; c++) *o++ = Clip8(s[c]);
    }
  }
}

void HorizontalGeneric(const uint8_t* src, int w, int C, int y0, int rows, const Axis& ax, int left, int tw, uint8_t* out) {
  switch (C) {
    case 1: HorizontalScalar<1>(src, w, y0, rows, ax, left, tw, out); break;
    case 2: HorizontalScalar<2>(src, w, y0, rows, ax, left, tw, out); break;
    case 3: HorizontalScalar<3>(src, w, y0, rows, ax, left, tw, out); break;
    default: HorizontalScalar<4>(src, w, y0, rows, ax, left, tw, out); break;
  }
}

#ifdef OCD_X86
// 3 or 4 bands with 16-bit multiply-adds, exactly: each 22-bit coefficient k is split into
// kh = k >> 11 (signed, |kh| < 2^13) and kl = k & 2047, both int16, and pmaddwd sums pixel pairs
// times (kh, kh') and (kl, kl') into int32. Then sum(p * k) = (sum(p * kh) << 11) + sum(p * kl)
// holds exactly in int32 (no partial sum exceeds the full sum's range by more than 255 * 2047 * taps).
// One step takes two taps of two rows: 8 bytes at the tap pair of each row (two pixels and 2 or 0
// spare bytes) are shuffled to int16 [c0 c0' c1 c1' c2 c2' c3 c3'] per 128-bit lane.
template <int C>
__attribute__((target("avx2"))) void HorizontalAvx2(const uint8_t* src, size_t srcLen, int w, int y0, int rows, const Axis& ax, int left, int tw, uint8_t* out) {
  const size_t stride = static_cast<size_t>(w) * C;
  const size_t outStride = static_cast<size_t>(tw) * C;
  const int pairs = (ax.ksize + 1) / 2;
  // Per output column and tap pair: (kh[t], kh[t+1]) and (kl[t], kl[t+1]) as two int16 in an int32.
  thread_local std::vector<int32_t> coeffs;
  coeffs.assign(static_cast<size_t>(tw) * pairs * 2, 0);
  for (int xx = left; xx < left + tw; xx++) {
    const int n = ax.bounds[xx * 2 + 1];
    const int32_t* k = ax.fixed + static_cast<size_t>(xx) * ax.ksize;
    int32_t* c = coeffs.data() + static_cast<size_t>(xx - left) * pairs * 2;
    for (int t = 0; t < n; t++) {
      const int32_t hi = k[t] >> 11;  // arithmetic shift: floor division
      const int32_t lo = k[t] & 2047;
      const int shift = (t & 1) * 16;
      c[(t / 2) * 2] |= static_cast<int32_t>(static_cast<uint32_t>(hi & 0xffff) << shift);
      c[(t / 2) * 2 + 1] |= static_cast<int32_t>(static_cast<uint32_t>(lo & 0xffff) << shift);
    }
  }
  // Byte i of the 8 loaded -> int16 lane: [b0 b3 b1 b4 b2 b5 - -] (3 bands) or [b0 b4 b1 b5 b2 b6 b3 b7].
  const __m256i shuf = C == 3
      ? _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1)
      : _mm256_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1, 0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1);
  const __m256i half = _mm256_set1_epi32(kHalf);
  auto load8 = [&](const uint8_t* p, bool guarded) -> int64_t {
    int64_t v = 0;
    if (!guarded) {
      memcpy(&v, p, 8);
    } else {
      const size_t avail = static_cast<size_t>(src + srcLen - p);
      memcpy(&v, p, avail < 8 ? avail : 8);
    }
    return v;
  };
  for (int y = 0; y < rows; y += 2) {
    const int ra = y0 + y;
    const int rb = y + 1 < rows ? ra + 1 : ra;  // an odd last row is computed twice, stored once
    const uint8_t* r0 = src + ra * stride;
    const uint8_t* r1 = src + rb * stride;
    // An 8-byte read at a row's last pixel ends at (row + 1) * stride + 8 - C.
    const bool guarded = (static_cast<size_t>(rb) + 1) * stride + 8 - C > srcLen;
    uint8_t* o0 = out + y * outStride;
    uint8_t* o1 = y + 1 < rows ? o0 + outStride : nullptr;
    const int32_t* c = coeffs.data();
    for (int xx = left; xx < left + tw; xx++, c += pairs * 2) {
      const int xmin = ax.bounds[xx * 2];
      const int n = ax.bounds[xx * 2 + 1];
      __m256i sh = _mm256_setzero_si256();
      __m256i sl = _mm256_setzero_si256();
      const uint8_t* p0 = r0 + xmin * C;
      const uint8_t* p1 = r1 + xmin * C;
      for (int t = 0; t < n; t += 2, p0 += 2 * C, p1 += 2 * C) {
        const __m256i px = _mm256_shuffle_epi8(_mm256_setr_epi64x(load8(p0, guarded), 0, load8(p1, guarded), 0), shuf);
        sh = _mm256_add_epi32(sh, _mm256_madd_epi16(px, _mm256_set1_epi32(c[t])));
        sl = _mm256_add_epi32(sl, _mm256_madd_epi16(px, _mm256_set1_epi32(c[t + 1])));
      }
      __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(sh, 11), sl), half);
      s = _mm256_srai_epi32(s, kPrecisionBits);
      // int32 -> int16 -> uint8 with saturation is the clamp to 0..255; lane 0 holds row a, lane 1 row b.
      const __m256i b16 = _mm256_packs_epi32(s, s);
      const __m256i b8 = _mm256_packus_epi16(b16, b16);
      const uint32_t va = static_cast<uint32_t>(_mm256_extract_epi32(b8, 0));
      const uint32_t vb = static_cast<uint32_t>(_mm256_extract_epi32(b8, 4));
      memcpy(o0, &va, C);
      o0 += C;
      if (o1) {
        memcpy(o1, &vb, C);
        o1 += C;
      }
    }
  }
}
#endif

void Horizontal(const uint8_t* src, size_t srcLen, int w, int C, int y0, int rows, const Axis& ax, int left, int tw, uint8_t* out) {
#ifdef OCD_X86
  if (HasAvx2() && (C == 3 || C == 4)) {
    if (C == 3) HorizontalAvx2<3>(src, srcLen, w, y0, rows, ax, left, tw, out);
    else HorizontalAvx2<4>(src, srcLen, w, y0, rows, ax, left, tw, out);
    return;
  }
#endif
  HorizontalGeneric(src, w, C, y0, rows, ax, left, tw, out);
}

// Vertical pass: output row yy = taps over rows of `temp` (rowLen bytes each, row r is source
// row r + y0). Written as plain loops over the row so the compiler vectorises them.
inline __attribute__((always_inline)) void VerticalImpl(const uint8_t* temp, int rowLen, int y0, const Axis& ax, int top, int th, uint8_t* out, int32_t* acc) {
  for (int yy = 0; yy < th; yy++) {
    const int oy = yy + top;
    const int ymin = ax.bounds[oy * 2] - y0;
    const int n = ax.bounds[oy * 2 + 1];
    const int32_t* k = ax.fixed + static_cast<size_t>(oy) * ax.ksize;
    uint8_t* o = out + static_cast<size_t>(yy) * rowLen;
    for (int i = 0; i < rowLen; i++) acc[i] = kHalf;
    int t = 0;
    for (; t + 1 < n; t += 2) {
      const uint8_t* a = temp + static_cast<size_t>(ymin + t) * rowLen;
      const uint8_t* b = a + rowLen;
      const int32_t ka = k[t], kb = k[t + 1];
      for (int i = 0; i < rowLen; i++) acc[i] += a[i] * ka + b[i] * kb;
    }
    if (t < n) {
      const uint8_t* a = temp + static_cast<size_t>(ymin + t) * rowLen;
      const int32_t ka = k[t];
      for (int i = 0; i < rowLen; i++) acc[i] += a[i] * ka;
    }
    for (int i = 0; i < rowLen; i++) {
      int32_t v = acc[i] >> kPrecisionBits;
      o[i] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

#ifdef OCD_X86
__attribute__((target("avx2"))) void VerticalAvx2(const uint8_t* temp, int rowLen, int y0, const Axis& ax, int top, int th, uint8_t* out, int32_t* acc) {
  VerticalImpl(temp, rowLen, y0, ax, top, th, out, acc);
}
#endif

void VerticalDefault(const uint8_t* temp, int rowLen, int y0, const Axis& ax, int top, int th, uint8_t* out, int32_t* acc) {
  VerticalImpl(temp, rowLen, y0, ax, top, th, out, acc);
}

thread_local std::vector<uint8_t> t_temp;
thread_local std::vector<int32_t> t_acc;

// resample8(src, w, h, C, outW, outH, left, top, width, height,
//           hBounds|null, hFixed|null, hKsize, vBounds|null, vFixed|null, vKsize, dst)
// Writes region (left, top, width, height) of src resized to outW x outH into dst; a null axis
// is not resized (outW == w / outH == h). The region must lie inside the output.
napi_value Resample8(napi_env env, napi_callback_info info) {
  Args a(env, info, 17);
  if (!a.ok) return nullptr;
  uint8_t* src;
  size_t srcLen;
  int32_t w, h, C, outW, outH, left, top, tw, th, hk = 0, vk = 0;
  if (!a.typed(0, napi_uint8_array, &src, &srcLen, "src") || !a.i32(1, &w) || !a.i32(2, &h) || !a.i32(3, &C) || !a.i32(4, &outW) ||
      !a.i32(5, &outH) || !a.i32(6, &left) || !a.i32(7, &top) || !a.i32(8, &tw) || !a.i32(9, &th) || !a.i32(12, &hk) || !a.i32(15, &vk)) {
    return nullptr;
  }
  if (C < 1 || C > 4 || w <= 0 || h <= 0 || outW <= 0 || outH <= 0) return Throw(env, "openclip_data_native: resample8: bad sizes");
  if (srcLen != static_cast<size_t>(w) * h * C) return Throw(env, "openclip_data_native: resample8: src length is not w*h*C");
  if (left < 0 || top < 0 || tw < 0 || th < 0 || left + tw > outW || top + th > outH) return Throw(env, "openclip_data_native: resample8: region outside the output");
  const bool needH = !a.isNull(10);
  const bool needV = !a.isNull(13);
  Axis hx{nullptr, nullptr, hk}, vx{nullptr, nullptr, vk};
  size_t len;
  if (needH) {
    int32_t *b, *f;
    size_t fl;
    if (!a.typed(10, napi_int32_array, &b, &len, "hBounds") || !a.typed(11, napi_int32_array, &f, &fl, "hFixed")) return nullptr;
    if (len != static_cast<size_t>(outW) * 2 || fl != static_cast<size_t>(outW) * hk) return Throw(env, "openclip_data_native: resample8: horizontal coefficients do not match outW");
    hx.bounds = b;
    hx.fixed = f;
  } else if (outW != w) {
    return Throw(env, "openclip_data_native: resample8: horizontal coefficients missing");
  }
  if (needV) {
    int32_t *b, *f;
    size_t fl;
    if (!a.typed(13, napi_int32_array, &b, &len, "vBounds") || !a.typed(14, napi_int32_array, &f, &fl, "vFixed")) return nullptr;
    if (len != static_cast<size_t>(outH) * 2 || fl != static_cast<size_t>(outH) * vk) return Throw(env, "openclip_data_native: resample8: vertical coefficients do not match outH");
    vx.bounds = b;
    vx.fixed = f;
  } else if (outH != h) {
    return Throw(env, "openclip_data_native: resample8: vertical coefficients missing");
  }
  uint8_t* dst;
  size_t dstLen;
  if (!a.typed(16, napi_uint8_array, &dst, &dstLen, "dst")) return nullptr;
  if (dstLen != static_cast<size_t>(tw) * th * C) return Throw(env, "openclip_data_native: resample8: dst length is not width*height*C");
  if (tw == 0 || th == 0) return Int(env, 0);

  // Source rows the vertical pass reads for the region's rows.
  int y0 = top, y1 = top + th;
  if (needV) {
    y0 = h;
    y1 = 0;
    for (int yy = top; yy < top + th; yy++) {
      const int b0 = vx.bounds[yy * 2], b1 = b0 + vx.bounds[yy * 2 + 1];
      if (b0 < y0) y0 = b0;
      if (b1 > y1) y1 = b1;
    }
    if (y0 < 0 || y1 > h || y0 > y1) return Throw(env, "openclip_data_native: resample8: vertical bounds outside the image");
  }
  if (needH) {
    for (int xx = left; xx < left + tw; xx++) {
      const int b0 = hx.bounds[xx * 2], n = hx.bounds[xx * 2 + 1];
      if (b0 < 0 || n < 0 || n > hk || b0 + n > w) return Throw(env, "openclip_data_native: resample8: horizontal bounds outside the image");
    }
  }
  const int rows = y1 - y0;
  const int rowLen = tw * C;
  // Horizontal pass (or the column crop), straight into dst when there is no vertical pass.
  uint8_t* temp;
  if (!needV) {
    temp = dst;
  } else {
    if (t_temp.size() < static_cast<size_t>(rows) * rowLen) t_temp.resize(static_cast<size_t>(rows) * rowLen);
    temp = t_temp.data();
  }
  if (needH) {
    Horizontal(src, srcLen, w, C, y0, rows, hx, left, tw, temp);
  } else {
    for (int y = 0; y < rows; y++) memcpy(temp + static_cast<size_t>(y) * rowLen, src + (static_cast<size_t>(y0 + y) * w + left) * C, rowLen);
  }
  if (!needV) return Int(env, 0);
  if (t_acc.size() < static_cast<size_t>(rowLen)) t_acc.resize(rowLen);
#ifdef OCD_X86
  if (HasAvx2()) {
    VerticalAvx2(temp, rowLen, y0, vx, top, th, dst, t_acc.data());
    return Int(env, 0);
  }
#endif
  VerticalDefault(temp, rowLen, y0, vx, top, th, dst, t_acc.data());
  return Int(env, 0);
}

// normalize(rgb: Uint8Array (n*3 interleaved), lut: Float32Array (3*256), out: Float32Array (3*n planar))
napi_value Normalize(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  if (!a.ok) return nullptr;
  uint8_t* rgb;
  float* lut;
  float* out;
  size_t n3, lutLen, outLen;
  if (!a.typed(0, napi_uint8_array, &rgb, &n3, "rgb") || !a.typed(1, napi_float32_array, &lut, &lutLen, "lut") ||
      !a.typed(2, napi_float32_array, &out, &outLen, "out")) {
    return nullptr;
  }
  if (lutLen != 768 || n3 % 3 != 0 || outLen != n3) return Throw(env, "openclip_data_native: normalize: lengths do not match");
  const size_t n = n3 / 3;
  const float* l0 = lut;
  const float* l1 = lut + 256;
  const float* l2 = lut + 512;
  float* o0 = out;
  float* o1 = out + n;
  float* o2 = out + 2 * n;
  for (size_t i = 0; i < n; i++) {
    o0[i] = l0[rgb[3 * i]];
    o1[i] = l1[rgb[3 * i + 1]];
    o2[i] = l2[rgb[3 * i + 2]];
  }
  return Int(env, 0);
}

// info() -> { jpeg: libjpeg version string | null, simd: 'avx2' | 'none' }
napi_value Info(napi_env env, napi_callback_info) {
  napi_value o, v;
  napi_create_object(env, &o);
#ifdef OPENCLIP_DATA_NO_JPEG
  napi_get_null(env, &v);
#else
  char ver[64];
#ifdef LIBJPEG_TURBO_VERSION
#define OCD_STR2(x) #x
#define OCD_STR(x) OCD_STR2(x)
  snprintf(ver, sizeof ver, "libjpeg-turbo %s (API %d)", OCD_STR(LIBJPEG_TURBO_VERSION), JPEG_LIB_VERSION);
#else
  snprintf(ver, sizeof ver, "libjpeg (API %d)", JPEG_LIB_VERSION);
#endif
  napi_create_string_utf8(env, ver, NAPI_AUTO_LENGTH, &v);
#endif
  napi_set_named_property(env, o, "jpeg", v);
  napi_create_string_utf8(env, HasAvx2() ? "avx2" : "none", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "simd", v);
  return o;
}

// setSimd(enabled: boolean) -> the SIMD level now in use ('avx2' | 'none')
napi_value SetSimd(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  if (!a.ok) return nullptr;
  bool on = true;
  if (napi_get_value_bool(env, a.argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, nullptr, "openclip_data_native: setSimd expects a boolean");
    return nullptr;
  }
  g_simd = on;
  napi_value v;
  napi_create_string_utf8(env, HasAvx2() ? "avx2" : "none", NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  struct Fn {
    const char* name;
    napi_callback fn;
  } fns[] = {{"info", Info}, {"decodeJpeg", DecodeJpeg}, {"resample8", Resample8}, {"normalize", Normalize}, {"setSimd", SetSimd}};
  for (const Fn& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
