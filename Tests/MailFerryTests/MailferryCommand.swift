import Foundation
import MailFerryLab
import Testing

extension EndToEnd {
    /// Runs the real `mailferry` binary to the end (bounded), started in `dir` when given (as an admin would: cd,
    /// then mailferry), and returns its exit code and output. A run past `timeout` is killed and recorded.
    static func mailferry(_ arguments: [String], in dir: String? = nil, environment: [String: String] = [:],
                          timeout: Double = 120) throws -> (code: Int32, out: String, err: String) {
        let child = try dir.map { try ChildProcess("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", $0, binary] + arguments,
                                                   environment: environment) }
            ?? ChildProcess(binary, arguments, environment: environment)
        defer { child.removeOutput() }
        guard let code = child.wait(timeout: timeout) else {
            child.kill9()
            Issue.record("mailferry \(arguments) did not finish within \(timeout) s")
            return (-1, child.stdout, child.stderr)
        }
        return (code, child.stdout, child.stderr)
    }
}
