import Foundation
import Glibc
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// A server that asks to renegotiate TLS (TLS 1.2's HelloRequest) ends the session with a TLS error, and the client
/// sends nothing after it. The server is `openssl s_server -tls1_2`, driven through its standard input: lines typed
/// there go to the client, and "r" alone on a line makes it request a renegotiation. Every wait is bounded.
@Suite(.serialized) struct TLSRenegotiationTests {
    /// `openssl s_server` on 127.0.0.1 with the fake PKI's good certificate: its input a pipe the test writes to, its
    /// output (what the client sent, and its own diagnostics) a file the test reads.
    final class SServer: @unchecked Sendable {
        let process = Process()
        let input = Pipe()
        let outputPath = NSTemporaryDirectory() + "mailferry-s_server-\(UUID().uuidString).txt"
        private(set) var port = 0

        init() throws {
            let pki = try FakePKI.shared()
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-cert", pki.certificateFile(.good),
                "-key", pki.keyFile(.good), "-naccept", "1",
            ]
            process.standardInput = input
            let output = FileHandle(forWritingAtPath: outputPath)
            process.standardOutput = output
            process.standardError = output
            try process.run()
            // "ACCEPT 127.0.0.1:PORT" once it listens.
            let line = try waitFor { $0.split(separator: "\n").first { $0.hasPrefix("ACCEPT 127.0.0.1:") } }
            port = Int(line.split(separator: ":").last ?? "") ?? 0
        }

        deinit {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            unlink(outputPath)
        }

        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        /// Types a line into the server's console.
        func type(_ line: String) {
            input.fileHandleForWriting.write(Data((line + "\n").utf8))
        }

        /// Waits (at most 60 s) until `found` finds something in the output.
        @discardableResult
        func waitFor<T>(_ found: (String) -> T?) throws -> T {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if let value = found(output) { return value }
                usleep(20_000)
            }
            throw FakeServerError("openssl s_server: not seen within 60 s; output so far: \(output)")
        }
    }

    @Test func aRenegotiationRequestEndsTheSession() throws {
        let server = try SServer()
        // The greeting waits in the pipe until the client is connected and the handshake done.
        server.type("+OK ready")
        let client = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: server.port, tls: .implicit,
                tlsSettings: TLSSettings(caFile: try FakePKI.shared().caFile), timeout: 30))
        // Once the client asked for CAPA and waits for the answer, the server asks to renegotiate instead.
        let typed = DispatchSemaphore(value: 0)
        let thread = Thread { [server] in
            if (try? server.waitFor({ $0.contains("CAPA") ? true : nil })) != nil { server.type("r") }
            typed.signal()
        }
        thread.start()
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(typed.wait(timeout: .now() + 60) == .success)
        #expect(client.tlsInfo?.version == "TLSv1.2")
        guard let error else { return }
        #expect(error.kind == .tls, "\(error.message)")
        #expect(error.message.contains("asked to renegotiate TLS, which mailferry refuses"), "\(error.message)")
        #expect(client.botched)
        // Nothing after CAPA: no login, not even QUIT.
        #expect(throws: MailError.self) { try client.login(user: "u", password: "pw") }
        client.quit()
        // The client refused the renegotiation itself (SSL_OP_NO_RENEGOTIATION: a no_renegotiation alert, which
        // s_server reports), rather than carrying it out.
        #expect((try? server.waitFor { $0.contains("no renegotiation") ? true : nil }) == true, "\(server.output)")
        let lines = server.output.split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.hasPrefix("USER") || $0.hasPrefix("QUIT") || $0.hasPrefix("AUTH") }, "\(lines)")
    }
}
