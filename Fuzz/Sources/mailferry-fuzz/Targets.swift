import Glibc

/// The fuzz targets by name. scripts/fuzz runs each with MAILFERRY_FUZZ_TARGET=<name> and its corpus in
/// Fuzz/corpus/<name>.
let fuzzTargets: [String: @Sendable (inout FuzzInput) -> Void] = [
    "line-reader": fuzzLineReader,
    "dot-unstuffer": fuzzDotUnstuffer,
    "pop3-reply": fuzzPOP3Reply,
    "headers": fuzzHeaders,
    "imap-response": fuzzIMAPResponse,
    "smtp-reply": fuzzSMTPReply,
    "plan": fuzzPlan,
]

/// The target this process runs, chosen once.
let selectedTarget: @Sendable (inout FuzzInput) -> Void = {
    let name = getenv("MAILFERRY_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = fuzzTargets[name] else {
        printError("set MAILFERRY_FUZZ_TARGET to one of: \(fuzzTargets.keys.sorted().joined(separator: ", "))")
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = data.map { FuzzInput($0, count) } ?? FuzzInput([])
    selectedTarget(&input)
    return 0
}
