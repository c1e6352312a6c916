#ifndef MAILFERRY_CSQLITE_SHIM_H
#define MAILFERRY_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro Swift cannot import.
static inline sqlite3_destructor_type mf_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/// sqlite3_config is variadic, which Swift cannot call. Turns off SQLite's memory statistics (nothing reads them),
/// which take a process-wide mutex on every allocation. Only effective before SQLite is first used.
static inline int mf_sqlite_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

#endif
