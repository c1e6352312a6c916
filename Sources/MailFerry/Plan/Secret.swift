import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// Where a password comes from. Never the plan text itself: plans are copied, mailed and committed.
/// Resolved only when a login needs it; the value is never printed, logged, reported or stored.
public enum SecretRef: Sendable, Equatable, CustomStringConvertible {
    case env(String)
    case file(String)
    /// A program whose standard output is the secret (a vault client, a token helper); bounded in time and output.
    /// It sees a minimal environment (CommandRunner.baseEnvironment) plus the variables named in `env`, so it cannot
    /// read the other mailboxes' password variables.
    case command([String], env: [String] = [])

    /// Safe to print: names the source of the secret, not its value.
    public var description: String {
        switch self {
        case .env(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        case .command(let argv, _): "command:\(argv.first ?? "")"
        }
    }

    /// How long a `command` secret may take before it is killed and the login fails (a vault client waiting for a
    /// human must not hang a cron run).
    public static let defaultCommandTimeout: Double = 30

    /// The most a `command` secret may print (a password or a token, with room for a JWT); more is an error, and
    /// the program is killed: an endless or runaway helper must not fill memory.
    public static let commandOutputLimit = 64 * 1024

    /// Reads the secret now. Errors name where it was looked for, never what was found. `commandTimeout` bounds a
    /// `command` secret (tests use a short one).
    public func resolve(commandTimeout: Double = SecretRef.defaultCommandTimeout) throws -> String {
        switch self {
        case .env(let name):
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw MailError(.auth, "the environment variable \(name) is not set (it should hold a password)")
            }
            return value
        case .file(let path):
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw MailError(.auth, "cannot read secret file \(path): \(errnoText())")
            }
            if info.st_mode & 0o077 != 0 {
                throw MailError(
                    .auth,
                    "secret file \(path) is readable by group or others (mode "
                        + String(info.st_mode & 0o777, radix: 8) + "); run: chmod 600 \(path)")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MailError(.auth, "cannot read secret file \(path)")
            }
            var text = String(decoding: data, as: UTF8.self)
            // One trailing line break is how editors and `echo` end files; it is not part of the password.
            // ("\r\n" is a single Character in Swift, so one removeLast covers both endings.)
            if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }
            guard !text.isEmpty else { throw MailError(.auth, "secret file \(path) is empty") }
            return text
        case .command(let argv, let names):
            let output: [UInt8]
            do {
                output = try CommandRunner.capture(
                    argv, environment: CommandRunner.environment(passing: names),
                    timeout: commandTimeout, limit: SecretRef.commandOutputLimit)
            } catch {
                throw MailError(.auth, "secret command failed: \(ErrorText.sentence(error))")
            }
            var text = String(decoding: output, as: UTF8.self)
            while text.hasSuffix("\n") || text.hasSuffix("\r\n") { text.removeLast() }
            guard !text.isEmpty else { throw MailError(.auth, "secret command \(argv[0]) printed nothing") }
            return text
        }
    }
}
