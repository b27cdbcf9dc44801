#pragma once

/// The name of the SQLite VFS that stores a database file as numbered chunk files.
#define RD_CHUNK_VFS_NAME "restore-drill-chunks"

/// Registers the VFS `RD_CHUNK_VFS_NAME` (not as the default; once per process, thread-safe).
///
/// A main database file `P` opened through it (with the URI parameter `chunk_size=N`, N > 0 bytes)
/// is stored as `P.chunk-0001`, `P.chunk-0002`, ... each holding N bytes of the file except the
/// last: byte `i` of the database is byte `i mod N` of chunk `i / N + 1`. Every other file (journal,
/// WAL) is the default VFS's own. Locking is the default VFS's on chunk 1. The I/O methods are
/// version 1 (no shared memory, no mmap): a WAL database needs `PRAGMA locking_mode=EXCLUSIVE`.
///
/// Made for restore-drill's backup engine: `sqlite3_backup` writes the copy straight into the
/// set's chunks, so a large database is written once instead of copied into a temporary file
/// and then cut into chunks.
/// - Returns: `SQLITE_OK`, or the error `sqlite3_vfs_register` returned (or `SQLITE_ERROR` when
///   there is no default VFS).
int rd_chunkvfs_register(void);
