// N-API bindings to Open MPI for @openclip/train's `--dist-backend mpi`. Every collective runs on
// a libuv worker thread on the caller's Float32Array memory (all-reduce in place), so the event
// loop stays free for the JavaScript side's deadline, which may call abort() while a collective
// is in flight (MPI_THREAD_MULTIPLE is requested for that). The JavaScript side issues one call at
// a time, in call order.
#include <mpi.h>
#include <node_api.h>
#include <dlfcn.h>
#include <climits>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <string>
#include <vector>

namespace {

bool g_inited = false;
int g_thread_level = 0;

#define CHECK_NAPI(env, call)                                   \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error(env, nullptr, "openclip-mpi: " #call);   \
      return nullptr;                                           \
    }                                                           \
  } while (0)

napi_value Throw(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

std::string MpiError(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(buf, len);
}

// A Float32Array argument: its memory and a reference that keeps it alive during the call.
struct Floats {
  float* data = nullptr;
  size_t length = 0;
  napi_ref ref = nullptr;
};

bool GetFloats(napi_env env, napi_value v, const char* what, Floats* out) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type;
  void* data = nullptr;
  napi_value ab;
  size_t offset = 0;
  if (!is_ta || napi_get_typedarray_info(env, v, &type, &out->length, &data, &ab, &offset) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, nullptr, (std::string("openclip-mpi: ") + what + " must be a Float32Array").c_str());
    return false;
  }
  if (out->length > static_cast<size_t>(INT_MAX)) {
    napi_throw_range_error(env, nullptr, (std::string("openclip-mpi: ") + what + " has more than 2^31-1 values, more than one MPI call takes").c_str());
    return false;
  }
  out->data = static_cast<float*>(data);
  napi_create_reference(env, v, 1, &out->ref);
  return true;
}

enum class Kind { kAllreduce, kAllgatherCounts, kAllgatherv, kBcast, kSendrecv, kBarrier };

struct Work {
  Kind kind;
  Floats a, b;           // inputs / outputs as the kind needs
  int op = 0;            // allreduce: 0 sum, 1 max, 2 min
  int peer_to = 0, peer_from = 0, root = 0;
  int count = 0;         // allgatherCounts: this rank's length
  int* counts = nullptr; // allgatherv: per-rank lengths (copied)
  int world = 0;
  int rc = MPI_SUCCESS;
  napi_ref callback = nullptr;
  napi_async_work work = nullptr;
};

// Releases what a Work holds (array references, copied counts, the callback) and the Work itself;
// returns nullptr so a binding that refuses its arguments can `return Drop(env, w);`.
napi_value Drop(napi_env env, Work* w) {
  if (w->a.ref) napi_delete_reference(env, w->a.ref);
  if (w->b.ref) napi_delete_reference(env, w->b.ref);
  if (w->callback) napi_delete_reference(env, w->callback);
  if (w->work) napi_delete_async_work(env, w->work);
  delete[] w->counts;
  delete w;
  return nullptr;
}

// Arrays of at least this many values are all-reduced by RingAllreduce; smaller ones by
// MPI_Allreduce, whose algorithms for small messages need fewer round trips.
constexpr size_t kRingMin = 1 << 16;
// The reduce-scatter's receive buffer, kept across calls (one collective runs at a time): as large
// as the widest segment of the largest array reduced so far (half of it on two ranks).
std::vector<float> g_ring_recv;

// All-reduce in place as a ring over MPI_Sendrecv: n - 1 reduce-scatter steps (send segment
// r - t to the right neighbour, receive segment r - t - 1 from the left and reduce it into place),
// then n - 1 all-gather steps (pass the reduced segments on). Open MPI 4.1's MPI_Allreduce of
// large arrays was measured 7-10x slower than this ring, on the same library's point-to-point
// path, between two ranks on one host; each value crosses the wire 2(n - 1)/n times here.
// Segments and order of summation are those of the TCP transport's ring over one array, so both
// give the same sums.
int RingAllreduce(float* data, size_t length, MPI_Op op) {
  int rank = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  if (n == 1) return MPI_SUCCESS;
  std::vector<size_t> bounds(n + 1);
  size_t widest = 0;
  for (int j = 0; j <= n; j++) bounds[j] = static_cast<size_t>((static_cast<unsigned long long>(j) * length) / n);
  for (int j = 0; j < n; j++) widest = std::max(widest, bounds[j + 1] - bounds[j]);
  if (g_ring_recv.size() < widest) g_ring_recv.resize(widest);
  float* recv = g_ring_recv.data();
  const int right = (rank + 1) % n, left = (rank - 1 + n) % n;
  auto seg = [&](int i) { return ((i % n) + n) % n; };
  auto count = [&](int j) { return static_cast<int>(bounds[j + 1] - bounds[j]); };
  for (int t = 0; t < n - 1; t++) {
    const int out = seg(rank - t), in = seg(rank - t - 1);
    int rc = MPI_Sendrecv(data + bounds[out], count(out), MPI_FLOAT, right, 1, recv, count(in), MPI_FLOAT, left, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS) rc = MPI_Reduce_local(recv, data + bounds[in], count(in), MPI_FLOAT, op);
    if (rc != MPI_SUCCESS) return rc;
  }
  for (int t = 0; t < n - 1; t++) {
    const int out = seg(rank + 1 - t), in = seg(rank - t);
    int rc = MPI_Sendrecv(data + bounds[out], count(out), MPI_FLOAT, right, 2, data + bounds[in], count(in), MPI_FLOAT, left, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return rc;
  }
  return MPI_SUCCESS;
}

void Execute(napi_env, void* p) {
  Work* w = static_cast<Work*>(p);
  switch (w->kind) {
    case Kind::kAllreduce: {
      MPI_Op op = w->op == 1 ? MPI_MAX : w->op == 2 ? MPI_MIN : MPI_SUM;
      if (w->a.length >= kRingMin) w->rc = RingAllreduce(w->a.data, w->a.length, op);
      else w->rc = MPI_Allreduce(MPI_IN_PLACE, w->a.data, static_cast<int>(w->a.length), MPI_FLOAT, op, MPI_COMM_WORLD);
      break;
    }
    case Kind::kAllgatherCounts:
      w->counts = new int[w->world];
      w->rc = MPI_Allgather(&w->count, 1, MPI_INT, w->counts, 1, MPI_INT, MPI_COMM_WORLD);
      break;
    case Kind::kAllgatherv: {
      int* displs = new int[w->world];
      long long o = 0;
      for (int i = 0; i < w->world; i++) {
        displs[i] = static_cast<int>(o);
        o += w->counts[i];
      }
      w->rc = MPI_Allgatherv(w->a.data, static_cast<int>(w->a.length), MPI_FLOAT, w->b.data, w->counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
      delete[] displs;
      break;
    }
    case Kind::kBcast:
      w->rc = MPI_Bcast(w->a.data, static_cast<int>(w->a.length), MPI_FLOAT, w->root, MPI_COMM_WORLD);
      break;
    case Kind::kSendrecv:
      w->rc = MPI_Sendrecv(w->a.data, static_cast<int>(w->a.length), MPI_FLOAT, w->peer_to, 0, w->b.data, static_cast<int>(w->b.length), MPI_FLOAT, w->peer_from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      break;
    case Kind::kBarrier:
      w->rc = MPI_Barrier(MPI_COMM_WORLD);
      break;
  }
}

void Complete(napi_env env, napi_status, void* p) {
  Work* w = static_cast<Work*>(p);
  napi_value cb, global, args[2];
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &global);
  if (w->rc != MPI_SUCCESS) {
    std::string msg = MpiError(w->rc);
    napi_create_string_utf8(env, msg.c_str(), msg.size(), &args[0]);
  } else {
    napi_get_null(env, &args[0]);
  }
  size_t argc = 1;
  if (w->kind == Kind::kAllgatherCounts && w->rc == MPI_SUCCESS) {
    napi_value ab;
    void* data = nullptr;
    napi_create_arraybuffer(env, sizeof(int) * w->world, &data, &ab);
    std::memcpy(data, w->counts, sizeof(int) * w->world);
    napi_create_typedarray(env, napi_int32_array, w->world, ab, 0, &args[1]);
    argc = 2;
  }
  Drop(env, w);
  napi_call_function(env, global, cb, argc, args, nullptr);
}

napi_value Queue(napi_env env, Work* w, napi_value cb) {
  napi_valuetype t;
  napi_typeof(env, cb, &t);
  if (t != napi_function) {
    Drop(env, w);
    return Throw(env, "openclip-mpi: the last argument must be a callback");
  }
  if (!g_inited) {
    Drop(env, w);
    return Throw(env, "openclip-mpi: init() was not called (or finalize() was)");
  }
  napi_create_reference(env, cb, 1, &w->callback);
  napi_value name;
  napi_create_string_utf8(env, "openclip-mpi", NAPI_AUTO_LENGTH, &name);
  CHECK_NAPI(env, napi_create_async_work(env, nullptr, name, Execute, Complete, w, &w->work));
  CHECK_NAPI(env, napi_queue_async_work(env, w->work));
  return nullptr;
}

int WorldSize() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

bool GetInt(napi_env env, napi_value v, const char* what, int lo, int hi, int* out) {
  if (napi_get_value_int32(env, v, out) != napi_ok || *out < lo || *out > hi) {
    napi_throw_range_error(env, nullptr, (std::string("openclip-mpi: ") + what + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str());
    return false;
  }
  return true;
}

// Reads the call's first n arguments into argv; false, with an error naming the usage, when fewer
// came (or, with need_init, before init()).
bool Args(napi_env env, napi_callback_info info, size_t n, napi_value* argv, const char* usage, bool need_init) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc >= n && (!need_init || g_inited)) return true;
  Throw(env, std::string("openclip-mpi: ") + usage + (need_init ? " after init()" : ""));
  return false;
}

napi_value Init(napi_env env, napi_callback_info) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return Throw(env, "openclip-mpi: MPI was finalized in this process and cannot start again");
  if (!g_inited) {
    // Open MPI's plugins resolve libmpi's symbols globally: make them visible (Node loads addons RTLD_LOCAL).
    if (!dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &g_thread_level);
    if (rc != MPI_SUCCESS) return Throw(env, "openclip-mpi: MPI_Init_thread failed: " + MpiError(rc));
    if (g_thread_level < MPI_THREAD_SERIALIZED) return Throw(env, "openclip-mpi: this MPI library gives only thread level " + std::to_string(g_thread_level) + "; collectives run on a worker thread and need MPI_THREAD_SERIALIZED or better");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    g_inited = true;
  }
  int rank = 0, size = 0, len = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(lib, &len);
  std::string libs(lib, len);
  size_t nl = libs.find_first_of("\r\n,");
  if (nl != std::string::npos) libs.resize(nl);
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_int32(env, rank, &v);
  napi_set_named_property(env, obj, "rank", v);
  napi_create_int32(env, size, &v);
  napi_set_named_property(env, obj, "size", v);
  napi_create_string_utf8(env, libs.c_str(), libs.size(), &v);
  napi_set_named_property(env, obj, "library", v);
  napi_create_int32(env, g_thread_level, &v);
  napi_set_named_property(env, obj, "threadLevel", v);
  return obj;
}

// allreduce(Float32Array, op, cb)
napi_value Allreduce(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv, "allreduce(data, op, callback)", false)) return nullptr;
  Work* w = new Work{Kind::kAllreduce};
  if (!GetInt(env, argv[1], "op", 0, 2, &w->op) || !GetFloats(env, argv[0], "data", &w->a)) return Drop(env, w);
  return Queue(env, w, argv[2]);
}

// allgatherCounts(count, cb(err, Int32Array))
napi_value AllgatherCounts(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv, "allgatherCounts(count, callback)", false)) return nullptr;
  Work* w = new Work{Kind::kAllgatherCounts};
  if (!GetInt(env, argv[0], "count", 0, INT_MAX, &w->count)) return Drop(env, w);
  w->world = g_inited ? WorldSize() : 0;
  return Queue(env, w, argv[1]);
}

// allgatherv(data, Int32Array counts, out, cb)
napi_value Allgatherv(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv, "allgatherv(data, counts, out, callback)", true)) return nullptr;
  Work* w = new Work{Kind::kAllgatherv};
  w->world = WorldSize();
  napi_typedarray_type type;
  size_t n = 0;
  void* data = nullptr;
  napi_value ab;
  size_t off;
  bool is_ta = false;
  napi_is_typedarray(env, argv[1], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[1], &type, &n, &data, &ab, &off) != napi_ok || type != napi_int32_array || n != static_cast<size_t>(w->world)) {
    Drop(env, w);
    return Throw(env, "openclip-mpi: allgatherv counts must be an Int32Array with one length per rank");
  }
  w->counts = new int[w->world];
  std::memcpy(w->counts, data, sizeof(int) * w->world);
  long long total = 0;
  for (int i = 0; i < w->world; i++) total += w->counts[i];
  if (!GetFloats(env, argv[0], "data", &w->a) || !GetFloats(env, argv[2], "out", &w->b)) return Drop(env, w);
  if (static_cast<long long>(w->b.length) != total || total > INT_MAX) {
    Drop(env, w);
    return Throw(env, "openclip-mpi: allgatherv out must hold the sum of the counts (at most 2^31-1 values)");
  }
  return Queue(env, w, argv[3]);
}

// bcast(data, root, cb)
napi_value Bcast(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv, "bcast(data, root, callback)", true)) return nullptr;
  Work* w = new Work{Kind::kBcast};
  if (!GetInt(env, argv[1], "root", 0, WorldSize() - 1, &w->root) || !GetFloats(env, argv[0], "data", &w->a)) return Drop(env, w);
  return Queue(env, w, argv[2]);
}

// sendrecv(data, to, out, from, cb)
napi_value Sendrecv(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!Args(env, info, 5, argv, "sendrecv(data, to, out, from, callback)", true)) return nullptr;
  Work* w = new Work{Kind::kSendrecv};
  int last = WorldSize() - 1;
  if (!GetInt(env, argv[1], "to", 0, last, &w->peer_to) || !GetInt(env, argv[3], "from", 0, last, &w->peer_from) || !GetFloats(env, argv[0], "data", &w->a) || !GetFloats(env, argv[2], "out", &w->b)) return Drop(env, w);
  return Queue(env, w, argv[4]);
}

napi_value Barrier(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv, "barrier(callback)", false)) return nullptr;
  return Queue(env, new Work{Kind::kBarrier}, argv[0]);
}

// abort(message): the whole job stops (mpirun/srun end every rank).
napi_value Abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char msg[1024] = "";
  size_t len = 0;
  if (argc >= 1) napi_get_value_string_utf8(env, argv[0], msg, sizeof msg, &len);
  std::fprintf(stderr, "%s\n", msg);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  return nullptr;
}

napi_value Finalize(napi_env, napi_callback_info) {
  if (g_inited) {
    g_inited = false;
    MPI_Finalize();
  }
  return nullptr;
}

napi_value Module(napi_env env, napi_value exports) {
  const struct {
    const char* name;
    napi_callback fn;
  } fns[] = {{"init", Init}, {"allreduce", Allreduce}, {"allgatherCounts", AllgatherCounts}, {"allgatherv", Allgatherv}, {"bcast", Bcast}, {"sendrecv", Sendrecv}, {"barrier", Barrier}, {"abort", Abort}, {"finalize", Finalize}};
  for (const auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Module)
