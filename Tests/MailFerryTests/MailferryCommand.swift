import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

extension EndToEnd {
    /// Runs the real `mailferry` binary to the end (bounded), started in `dir` when given (as an admin would: cd,
    /// then mailferry), and returns its exit code and output. A run past `timeout` is killed and recorded.
    static func mailferry(
        _ arguments: [String], in dir: String? = nil, environment: [String: String] = [:],
        timeout: Double = 120
    ) throws -> (code: Int32, out: String, err: String) {
        let child =
            try dir.map {
                try ChildProcess(
                    "/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", $0, binary] + arguments,
                    environment: environment)
            }
            ?? ChildProcess(binary, arguments, environment: environment)
        return child.finish(within: timeout, "mailferry \(arguments)")
    }
}

extension ChildProcess {
    /// Waits for the child to end, at most `timeout` seconds (then kills it and records an issue naming `what`),
    /// removes its output files and returns its exit code (-1 when killed) and output.
    func finish(within timeout: Double, _ what: String) -> (code: Int32, out: String, err: String) {
        defer { removeOutput() }
        guard let code = wait(timeout: timeout) else {
            kill9()
            Issue.record("\(what) did not finish within \(timeout) s: \(stdout) \(stderr)")
            return (-1, stdout, stderr)
        }
        return (code, stdout, stderr)
    }
}
