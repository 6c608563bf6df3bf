// Advisory whole-file locks with flock(2), the primitive Python's `filelock` package uses on Unix, so
// a lock taken here and one taken by huggingface_hub in Python exclude each other. Node has no flock:
// the file is opened by Node (fs.openSync) and only its descriptor crosses into the addon.
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "addon.h"

namespace openclip {

// flockTry(fd: number) -> boolean: takes an exclusive lock without blocking; false when another open
// file description holds it. Any other failure (bad descriptor, unsupported filesystem) throws.
napi_value FlockTry(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  if (!a.ok) return nullptr;
  const int fd = static_cast<int>(a.i64(0));
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EWOULDBLOCK) {
    const std::string msg = std::string("flock(") + std::to_string(fd) + "): " + std::strerror(errno);
    napi_throw_error(env, nullptr, msg.c_str());
    return nullptr;
  }
  napi_value out;
  napi_get_boolean(env, rc == 0, &out);
  return out;
}

// flockRelease(fd: number): drops the lock (closing the descriptor would too).
napi_value FlockRelease(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  if (!a.ok) return nullptr;
  flock(static_cast<int>(a.i64(0)), LOCK_UN);
  return undef(env);
}

}  // namespace openclip
