import Foundation

@testable import MailCore
@testable import MailFerry
@testable import MailSystem
@testable import MailWire

/// IMAP responses as the client reads them (Delivery/IMAPClient.swift readResponse, IMAPResponse.swift): lines
/// with literals from a server that sends them in odd pieces. Bounded, and no server text reaches a person with its
/// control characters.
@Sendable func fuzzIMAPResponse(_ input: inout FuzzInput) {
    let sizes = (0..<4).map { _ in input.byte() }
    let payload = input.rest()
    let client = IMAPClient(endpoint: ServerEndpoint(host: "fuzz", port: 143, tls: .none))
    client.connection = memoryConnection(payload, sizes: sizes, bufferSize: 4096, maxLineLength: 2048)
    for _ in 0..<64 {
        do {
            let response = try client.readResponse()
            requireDisplaySafe(response.text, "response text")
            require(response.literals.count <= 64, "\(response.literals.count) literals")
            for capability in IMAPResponse.capabilities(response.text) {
                require(!capability.isEmpty, "an empty capability")
            }
        } catch let error as MailError {
            requireDisplaySafe(error.message, "error message")
            return
        } catch {
            return require(false, "unexpected error type: \(error)")
        }
    }
}

/// SMTP and LMTP replies (Delivery/SMTPReply.swift) read line by line from the bounded reader: a reply has one code,
/// at most `maxLines` lines, and display-safe text; its classification never fails.
@Sendable func fuzzSMTPReply(_ input: inout FuzzInput) {
    let sizes = (0..<4).map { _ in input.byte() }
    let maxLines = input.int(in: 1...40)
    let payload = input.rest()
    let connection = memoryConnection(payload, sizes: sizes, bufferSize: 4096, maxLineLength: 2048)
    for _ in 0..<64 {
        do {
            let reply = try SMTPReply.read(maxLines: maxLines) { try connection.readLine() }
            require((0...999).contains(reply.code), "code \(reply.code)")
            require(!reply.lines.isEmpty && reply.lines.count <= maxLines, "\(reply.lines.count) lines")
            for line in reply.lines { requireDisplaySafe(line, "reply line") }
            requireDisplaySafe(reply.classify(doing: "RCPT TO").message, "classified error")
        } catch let error as MailError {
            requireDisplaySafe(error.message, "error message")
            return
        } catch {
            return require(false, "unexpected error type: \(error)")
        }
    }
}

/// The plan decoder (Plan/JSON5Parser.swift, PlanValidator): any bytes give a document or a located syntax error,
/// and any document a plan or problems, never a crash. The workspace does not exist, so relative paths read nothing.
@Sendable func fuzzPlan(_ input: inout FuzzInput) {
    let data = Data(input.rest())
    let document: JSON5Document
    do {
        document = try JSON5Parser.parse(data)
    } catch let error as JSON5SyntaxError {
        require(error.position.line >= 1 && error.position.column >= 1, "syntax error at \(error.position)")
        return
    } catch {
        return require(false, "unexpected error type: \(error)")
    }
    var validator = PlanValidator(
        file: "fuzz.json5", workspace: "/nonexistent/mailferry-fuzz",
        positions: document.positions)
    let plan = validator.build(document.value)
    let problems = validator.sortedProblems()
    require(plan != nil || !problems.isEmpty, "no plan and no problem")
}
