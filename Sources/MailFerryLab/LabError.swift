import Foundation
import Glibc

/// Why the lab could not do what it was asked.
///
/// `message` says what failed in one line; `details` carries what explains it (Dovecot's stderr, the tail of its log,
/// openssl's output), because a test that fails with "dovecot did not start" and nothing else costs an afternoon.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let details: String

    public init(_ message: String, details: String = "") {
        self.message = message
        self.details = details
    }

    public var description: String {
        let trimmed = details.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? "mailferry-lab: \(message)" : "mailferry-lab: \(message)\n\(trimmed)"
    }

    /// The one place a failed C call becomes an error, so every message names the call and `strerror`.
    static func posix(_ call: String, errno code: Int32 = Glibc.errno) -> LabError {
        LabError("\(call) failed: \(String(cString: strerror(code))) (errno \(code))")
    }
}
