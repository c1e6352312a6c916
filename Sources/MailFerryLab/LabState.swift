import Foundation

/// What `start` records in root/lab.json so a later process (`mailferry-lab stop|seed --root DIR`) can attach.
struct LabState: Codable, Sendable {
    var instanceName: String
    var ports: LabPorts
    var identity: MailIdentity
    var dovecot: String

    func write(to layout: LabLayout) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: layout.state)
    }

    static func read(from layout: LabLayout) throws -> LabState {
        guard let data = try? Data(contentsOf: layout.state) else {
            throw LabError("no lab under \(layout.root.path) (\(layout.state.lastPathComponent) is missing)")
        }
        do {
            return try JSONDecoder().decode(LabState.self, from: data)
        } catch {
            throw LabError("\(layout.state.path) is not a lab state file: \(error)")
        }
    }
}
