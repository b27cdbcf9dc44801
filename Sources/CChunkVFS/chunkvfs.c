// A SQLite VFS that keeps a main database file as numbered chunk files (see chunkvfs.h).
// Written against the documented VFS interface: https://www.sqlite.org/c3ref/vfs.html and
// https://www.sqlite.org/c3ref/io_methods.html (I/O methods version 1).
#include "chunkvfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ChunkFile {
    sqlite3_file base;       // pMethods: &chunk_io (or the default VFS's methods for other files)
    sqlite3_vfs *real;       // the default VFS
    sqlite3_int64 chunkSize; // bytes per chunk
    int flags;               // the open flags, for chunks opened later
    int count;               // chunks open (chunk i is chunks[i], file "<name>.chunk-<i+1>")
    int capacity;
    sqlite3_file **chunks;
    char **names;            // kept until close: the default VFS keeps the name pointer
    char *path;
} ChunkFile;

static sqlite3_vfs chunk_vfs;
static sqlite3_vfs *real_vfs;

static char *chunk_name(const char *path, int index) {
    size_t n = strlen(path) + 16;
    char *name = sqlite3_malloc((int)n);
    if (name) snprintf(name, n, "%s.chunk-%04d", path, index + 1);
    return name;
}

// Opens chunk `index` (and every chunk before it that is not open yet), creating it when `create`.
static int open_chunk(ChunkFile *f, int index, int create) {
    while (f->count <= index) {
        if (f->count == f->capacity) {
            int capacity = f->capacity ? f->capacity * 2 : 8;
            sqlite3_file **chunks = sqlite3_realloc(f->chunks, capacity * (int)sizeof(*chunks));
            if (!chunks) return SQLITE_NOMEM;
            f->chunks = chunks;
            char **names = sqlite3_realloc(f->names, capacity * (int)sizeof(*names));
            if (!names) return SQLITE_NOMEM;
            f->names = names;
            f->capacity = capacity;
        }
        char *name = chunk_name(f->path, f->count);
        if (!name) return SQLITE_NOMEM;
        if (!create) {
            int exists = 0;
            int rc = f->real->xAccess(f->real, name, SQLITE_ACCESS_EXISTS, &exists);
            if (rc != SQLITE_OK || !exists) {
                sqlite3_free(name);
                return rc != SQLITE_OK ? rc : SQLITE_NOTFOUND;
            }
        }
        sqlite3_file *chunk = sqlite3_malloc(f->real->szOsFile);
        if (!chunk) {
            sqlite3_free(name);
            return SQLITE_NOMEM;
        }
        memset(chunk, 0, f->real->szOsFile);
        // Not SQLITE_OPEN_URI: a chunk's name is ours, not a filename SQLite made, so the default
        // VFS must not look for URI parameters after it.
        int flags = f->flags & ~(SQLITE_OPEN_URI | SQLITE_OPEN_CREATE);
        if (create && (flags & SQLITE_OPEN_READWRITE)) flags |= SQLITE_OPEN_CREATE;
        int rc = f->real->xOpen(f->real, name, chunk, flags, NULL);
        if (rc != SQLITE_OK) {
            if (chunk->pMethods) chunk->pMethods->xClose(chunk);
            sqlite3_free(chunk);
            sqlite3_free(name);
            return rc;
        }
        f->chunks[f->count] = chunk;
        f->names[f->count] = name;
        f->count++;
    }
    return SQLITE_OK;
}

static int chunk_close(sqlite3_file *file) {
    ChunkFile *f = (ChunkFile *)file;
    int rc = SQLITE_OK;
    for (int i = 0; i < f->count; i++) {
        int r = f->chunks[i]->pMethods->xClose(f->chunks[i]);
        if (rc == SQLITE_OK) rc = r;
        sqlite3_free(f->chunks[i]);
        sqlite3_free(f->names[i]);
    }
    sqlite3_free(f->chunks);
    sqlite3_free(f->names);
    sqlite3_free(f->path);
    f->chunks = NULL;
    f->names = NULL;
    f->path = NULL;
    f->count = f->capacity = 0;
    return rc;
}

static int chunk_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    ChunkFile *f = (ChunkFile *)file;
    char *out = buffer;
    while (amount > 0) {
        int index = (int)(offset / f->chunkSize);
        sqlite3_int64 within = offset % f->chunkSize;
        int n = (int)(f->chunkSize - within < amount ? f->chunkSize - within : amount);
        if (index >= f->count && open_chunk(f, index, 0) != SQLITE_OK) {
            memset(out, 0, (size_t)amount);
            return SQLITE_IOERR_SHORT_READ;
        }
        int rc = f->chunks[index]->pMethods->xRead(f->chunks[index], out, n, within);
        if (rc == SQLITE_IOERR_SHORT_READ) {
            memset(out + n, 0, (size_t)(amount - n));  // the chunk zero-filled its own part
            return rc;
        }
        if (rc != SQLITE_OK) return rc;
        out += n;
        offset += n;
        amount -= n;
    }
    return SQLITE_OK;
}

static int chunk_write(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    ChunkFile *f = (ChunkFile *)file;
    const char *in = buffer;
    while (amount > 0) {
        int index = (int)(offset / f->chunkSize);
        sqlite3_int64 within = offset % f->chunkSize;
        int n = (int)(f->chunkSize - within < amount ? f->chunkSize - within : amount);
        int rc = open_chunk(f, index, 1);
        if (rc != SQLITE_OK) return rc == SQLITE_NOMEM ? rc : SQLITE_IOERR_WRITE;
        rc = f->chunks[index]->pMethods->xWrite(f->chunks[index], in, n, within);
        if (rc != SQLITE_OK) return rc;
        in += n;
        offset += n;
        amount -= n;
    }
    return SQLITE_OK;
}

static int chunk_truncate(sqlite3_file *file, sqlite3_int64 size) {
    ChunkFile *f = (ChunkFile *)file;
    int keep = (int)((size + f->chunkSize - 1) / f->chunkSize);  // chunks that still hold bytes
    if (keep == 0) keep = 1;                                     // chunk 1 stays (it holds the locks)
    while (f->count > keep) {
        int last = f->count - 1;
        f->chunks[last]->pMethods->xClose(f->chunks[last]);
        int rc = f->real->xDelete(f->real, f->names[last], 0);
        sqlite3_free(f->chunks[last]);
        sqlite3_free(f->names[last]);
        f->count--;
        if (rc != SQLITE_OK) return SQLITE_IOERR_TRUNCATE;
    }
    if (f->count == 0) return SQLITE_OK;
    sqlite3_int64 rest = size - (sqlite3_int64)(f->count - 1) * f->chunkSize;
    if (rest < 0) rest = 0;
    sqlite3_file *last = f->chunks[f->count - 1];
    return last->pMethods->xTruncate(last, rest);
}

static int chunk_sync(sqlite3_file *file, int flags) {
    ChunkFile *f = (ChunkFile *)file;
    for (int i = 0; i < f->count; i++) {
        int rc = f->chunks[i]->pMethods->xSync(f->chunks[i], flags);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

static int chunk_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    ChunkFile *f = (ChunkFile *)file;
    // Chunks written by an earlier connection are opened so the size counts them.
    while (open_chunk(f, f->count, 0) == SQLITE_OK) {}
    if (f->count == 0) {
        *size = 0;
        return SQLITE_OK;
    }
    sqlite3_int64 last = 0;
    int rc = f->chunks[f->count - 1]->pMethods->xFileSize(f->chunks[f->count - 1], &last);
    if (rc != SQLITE_OK) return rc;
    *size = (sqlite3_int64)(f->count - 1) * f->chunkSize + last;
    return SQLITE_OK;
}

static int chunk_lock(sqlite3_file *file, int level) {
    ChunkFile *f = (ChunkFile *)file;
    return f->chunks[0]->pMethods->xLock(f->chunks[0], level);
}

static int chunk_unlock(sqlite3_file *file, int level) {
    ChunkFile *f = (ChunkFile *)file;
    return f->chunks[0]->pMethods->xUnlock(f->chunks[0], level);
}

static int chunk_check_reserved(sqlite3_file *file, int *out) {
    ChunkFile *f = (ChunkFile *)file;
    return f->chunks[0]->pMethods->xCheckReservedLock(f->chunks[0], out);
}

static int chunk_file_control(sqlite3_file *file, int op, void *arg) {
    (void)file;
    if (op == SQLITE_FCNTL_VFSNAME) {
        *(char **)arg = sqlite3_mprintf("%s", RD_CHUNK_VFS_NAME);
        return SQLITE_OK;
    }
    return SQLITE_NOTFOUND;
}

static int chunk_sector_size(sqlite3_file *file) {
    ChunkFile *f = (ChunkFile *)file;
    return f->chunks[0]->pMethods->xSectorSize(f->chunks[0]);
}

static int chunk_device_characteristics(sqlite3_file *file) {
    ChunkFile *f = (ChunkFile *)file;
    return f->chunks[0]->pMethods->xDeviceCharacteristics(f->chunks[0]);
}

static const sqlite3_io_methods chunk_io = {
    1,
    chunk_close,
    chunk_read,
    chunk_write,
    chunk_truncate,
    chunk_sync,
    chunk_file_size,
    chunk_lock,
    chunk_unlock,
    chunk_check_reserved,
    chunk_file_control,
    chunk_sector_size,
    chunk_device_characteristics,
    NULL, NULL, NULL, NULL, NULL, NULL};

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
    (void)vfs;
    if (!(flags & SQLITE_OPEN_MAIN_DB) || !name) {
        // Journals, WAL files, temporary files: the default VFS's own file in the same memory.
        return real_vfs->xOpen(real_vfs, name, file, flags, outFlags);
    }
    ChunkFile *f = (ChunkFile *)file;
    memset(f, 0, sizeof(*f));
    sqlite3_int64 size = sqlite3_uri_int64(name, "chunk_size", 0);
    if (size <= 0) return SQLITE_CANTOPEN;
    f->real = real_vfs;
    f->chunkSize = size;
    f->flags = flags;
    f->path = sqlite3_mprintf("%s", name);
    if (!f->path) return SQLITE_NOMEM;
    // Chunk 1 always exists while the file is open: it carries the locks.
    int rc = open_chunk(f, 0, (flags & SQLITE_OPEN_CREATE) != 0);
    if (rc != SQLITE_OK) {
        chunk_close(file);
        return rc == SQLITE_NOMEM ? rc : SQLITE_CANTOPEN;
    }
    f->base.pMethods = &chunk_io;
    if (outFlags) *outFlags = flags;
    return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int syncDir) {
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, syncDir);
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *vfs_dlopen(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void vfs_dlerror(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    real_vfs->xDlError(real_vfs, n, out);
}

static void (*vfs_dlsym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, handle, symbol);
}

static void vfs_dlclose(sqlite3_vfs *vfs, void *handle) {
    (void)vfs;
    real_vfs->xDlClose(real_vfs, handle);
}

static int vfs_randomness(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return real_vfs->xSleep(real_vfs, microseconds);
}

static int vfs_current_time(sqlite3_vfs *vfs, double *out) {
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int vfs_get_last_error(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}

static int register_status = SQLITE_ERROR;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_now(void) {
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs) return;
    memset(&chunk_vfs, 0, sizeof(chunk_vfs));
    chunk_vfs.iVersion = 1;
    chunk_vfs.szOsFile = real_vfs->szOsFile > (int)sizeof(ChunkFile) ? real_vfs->szOsFile : (int)sizeof(ChunkFile);
    chunk_vfs.mxPathname = real_vfs->mxPathname;
    chunk_vfs.zName = RD_CHUNK_VFS_NAME;
    chunk_vfs.xOpen = vfs_open;
    chunk_vfs.xDelete = vfs_delete;
    chunk_vfs.xAccess = vfs_access;
    chunk_vfs.xFullPathname = vfs_full_pathname;
    chunk_vfs.xDlOpen = vfs_dlopen;
    chunk_vfs.xDlError = vfs_dlerror;
    chunk_vfs.xDlSym = vfs_dlsym;
    chunk_vfs.xDlClose = vfs_dlclose;
    chunk_vfs.xRandomness = vfs_randomness;
    chunk_vfs.xSleep = vfs_sleep;
    chunk_vfs.xCurrentTime = vfs_current_time;
    chunk_vfs.xGetLastError = vfs_get_last_error;
    register_status = sqlite3_vfs_register(&chunk_vfs, 0);
}

int rd_chunkvfs_register(void) {
    pthread_once(&register_once, register_now);
    return register_status;
}
