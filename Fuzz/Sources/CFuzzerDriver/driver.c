// The fuzz executable's entry point. SwiftPM links every executable with main aliased to <target>_main, so
// libFuzzer's own main is never used; this one hands over to libFuzzer's driver (LLVM 11+), which calls the Swift
// LLVMFuzzerTestOneInput for each input.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int mailferry_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
