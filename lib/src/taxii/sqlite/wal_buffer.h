// An SQLite VFS that gathers a connection's writes to its WAL file.
//
// SQLite writes each WAL frame as two calls, a 24-byte header and the page,
// so a commit of 200 pages is 400 pwrite calls; on a virtual machine each
// call costs more than copying the page. This VFS wraps the default one and
// holds consecutive writes to a WAL file in a buffer of 128 KiB (the most
// the default VFS writes at once), written out in one call when a write is
// not contiguous, the buffer is full, or SQLite reads, truncates, sizes,
// syncs or closes the file. Other files go straight through.
//
// Only for connections with PRAGMA synchronous=FULL (the taxii store's):
// a commit then syncs the WAL, which writes the buffer, before SQLite
// publishes the new frames in the WAL index, so another connection never
// reads a frame still in this one's buffer. Private to the library.
#pragma once

namespace ctishare::detail {

// The VFS's name for sqlite3_open_v2, registered on first use; nullptr if
// it cannot be (SQLite then uses its default).
const char* wal_buffer_vfs();

}  // namespace ctishare::detail
