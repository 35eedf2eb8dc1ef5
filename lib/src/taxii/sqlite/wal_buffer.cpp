// See wal_buffer.h.
#include "taxii/sqlite/wal_buffer.h"

#include <sqlite3.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ctishare::detail {
namespace {

// SQLite's unix VFS writes at most 128 KiB - 1 bytes in one call (it masks
// the length with 0x1ffff, and a longer write fails as SQLITE_FULL): seven
// 16 KiB frames with their headers.
constexpr int kBufferBytes = 0x1ffff;

sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;
const char* g_name = nullptr;

sqlite3_vfs* real_vfs() { return static_cast<sqlite3_vfs*>(g_vfs.pAppData); }

// Our file: the real one follows it in the same allocation (szOsFile).
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  char* buffer;         // WAL files only
  sqlite3_int64 start;  // file offset of buffer[0]
  int used;
};

File* file_of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
const sqlite3_io_methods* real_methods(File* f) { return f->real->pMethods; }

int flush(File* f) {
  if (f->used == 0) return SQLITE_OK;
  const int rc = real_methods(f)->xWrite(f->real, f->buffer, f->used, f->start);
  f->used = 0;
  return rc;
}

int x_close(sqlite3_file* file) {
  File* f = file_of(file);
  int rc = flush(f);
  const int closed = real_methods(f)->xClose(f->real);
  std::free(f->buffer);
  f->buffer = nullptr;
  return rc != SQLITE_OK ? rc : closed;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  File* f = file_of(file);
  if (f->used > 0 && offset < f->start + f->used && offset + amount > f->start) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  return real_methods(f)->xRead(f->real, out, amount, offset);
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = file_of(file);
  if (f->buffer == nullptr) return real_methods(f)->xWrite(f->real, data, amount, offset);
  if (f->used > 0 && (offset != f->start + f->used || f->used + amount > kBufferBytes)) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (amount > kBufferBytes) return real_methods(f)->xWrite(f->real, data, amount, offset);
  if (f->used == 0) f->start = offset;
  std::memcpy(f->buffer + f->used, data, static_cast<std::size_t>(amount));
  f->used += amount;
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  File* f = file_of(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* file, int flags) {
  File* f = file_of(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  File* f = file_of(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* file, int level) { return real_methods(file_of(file))->xLock(file_of(file)->real, level); }
int x_unlock(sqlite3_file* file, int level) { return real_methods(file_of(file))->xUnlock(file_of(file)->real, level); }
int x_check_reserved(sqlite3_file* file, int* out) {
  return real_methods(file_of(file))->xCheckReservedLock(file_of(file)->real, out);
}
int x_file_control(sqlite3_file* file, int op, void* arg) {
  File* f = file_of(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xFileControl(f->real, op, arg);
}
int x_sector_size(sqlite3_file* file) { return real_methods(file_of(file))->xSectorSize(file_of(file)->real); }
int x_device_characteristics(sqlite3_file* file) {
  return real_methods(file_of(file))->xDeviceCharacteristics(file_of(file)->real);
}
int x_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real_methods(file_of(file))->xShmMap(file_of(file)->real, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_methods(file_of(file))->xShmLock(file_of(file)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real_methods(file_of(file))->xShmBarrier(file_of(file)->real); }
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_methods(file_of(file))->xShmUnmap(file_of(file)->real, delete_flag);
}
int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  File* f = file_of(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xFetch(f->real, offset, amount, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  return real_methods(file_of(file))->xUnfetch(file_of(file)->real, offset, p);
}

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = file_of(file);
  std::memset(f, 0, sizeof *f);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  const int rc = real_vfs()->xOpen(real_vfs(), name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || f->real->pMethods == nullptr) return rc;
  // Our methods forward what the real file has (the default VFS's version 3).
  if (f->real->pMethods->iVersion < g_methods.iVersion) {
    (void)f->real->pMethods->xClose(f->real);
    return SQLITE_CANTOPEN;
  }
  if ((flags & SQLITE_OPEN_WAL) != 0) {
    f->buffer = static_cast<char*>(std::malloc(kBufferBytes));
    if (f->buffer == nullptr) {
      (void)f->real->pMethods->xClose(f->real);
      return SQLITE_NOMEM;
    }
  }
  f->base.pMethods = &g_methods;
  return SQLITE_OK;
}

// The rest of the VFS is the default one's.
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return real_vfs()->xDelete(real_vfs(), name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return real_vfs()->xAccess(real_vfs(), name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return real_vfs()->xFullPathname(real_vfs(), name, size, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return real_vfs()->xDlOpen(real_vfs(), name); }
void x_dl_error(sqlite3_vfs*, int size, char* out) { real_vfs()->xDlError(real_vfs(), size, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return real_vfs()->xDlSym(real_vfs(), handle, symbol);
}
void x_dl_close(sqlite3_vfs*, void* handle) { real_vfs()->xDlClose(real_vfs(), handle); }
int x_randomness(sqlite3_vfs*, int size, char* out) { return real_vfs()->xRandomness(real_vfs(), size, out); }
int x_sleep(sqlite3_vfs*, int micros) { return real_vfs()->xSleep(real_vfs(), micros); }
int x_current_time(sqlite3_vfs*, double* out) { return real_vfs()->xCurrentTime(real_vfs(), out); }
int x_get_last_error(sqlite3_vfs*, int size, char* out) { return real_vfs()->xGetLastError(real_vfs(), size, out); }
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return real_vfs()->xCurrentTimeInt64(real_vfs(), out); }

void register_vfs() {
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  if (real == nullptr || real->iVersion < 2) return;
  g_methods = sqlite3_io_methods{3,
                                 x_close,
                                 x_read,
                                 x_write,
                                 x_truncate,
                                 x_sync,
                                 x_file_size,
                                 x_lock,
                                 x_unlock,
                                 x_check_reserved,
                                 x_file_control,
                                 x_sector_size,
                                 x_device_characteristics,
                                 x_shm_map,
                                 x_shm_lock,
                                 x_shm_barrier,
                                 x_shm_unmap,
                                 x_fetch,
                                 x_unfetch};
  g_vfs = sqlite3_vfs{};
  g_vfs.iVersion = 2;
  g_vfs.szOsFile = static_cast<int>(sizeof(File)) + real->szOsFile;
  g_vfs.mxPathname = real->mxPathname;
  g_vfs.zName = "ctishare-wal-buffer";
  g_vfs.pAppData = real;
  g_vfs.xOpen = x_open;
  g_vfs.xDelete = x_delete;
  g_vfs.xAccess = x_access;
  g_vfs.xFullPathname = x_full_pathname;
  g_vfs.xDlOpen = x_dl_open;
  g_vfs.xDlError = x_dl_error;
  g_vfs.xDlSym = x_dl_sym;
  g_vfs.xDlClose = x_dl_close;
  g_vfs.xRandomness = x_randomness;
  g_vfs.xSleep = x_sleep;
  g_vfs.xCurrentTime = x_current_time;
  g_vfs.xGetLastError = x_get_last_error;
  g_vfs.xCurrentTimeInt64 = x_current_time_int64;
  if (sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK) g_name = g_vfs.zName;
}

}  // namespace

const char* wal_buffer_vfs() {
  static std::once_flag once;
  std::call_once(once, register_vfs);
  return g_name;
}

}  // namespace ctishare::detail
