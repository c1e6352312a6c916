#ifndef MAILFERRY_CBUILDINFO_H
#define MAILFERRY_CBUILDINFO_H

/// The commit this binary was built from (40 hex digits), or "unknown": `mailferry --version` prints it.
/// Package.swift defines MAILFERRY_COMMIT from the environment variable of that name (scripts/package sets it).
const char *mailferry_build_commit(void);

#endif
