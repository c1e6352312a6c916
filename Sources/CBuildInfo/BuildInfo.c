#include "CBuildInfo.h"

// Swift has no way to take a string from the command line into a constant; a C define does (see Package.swift).
#ifndef MAILFERRY_COMMIT
#define MAILFERRY_COMMIT "unknown"
#endif

const char *mailferry_build_commit(void) {
    return MAILFERRY_COMMIT;
}
