import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension RoutingHeader {
    /// A second spool at `path` holding `field` followed by `spool`'s bytes: what a fallback copy is delivered from,
    /// for every kind of target alike. The caller discards it after the delivery.
    public static func prefixed(_ spool: SpoolFile, with field: [UInt8], path: String) throws -> SpoolFile {
        let copy = try SpoolFile(path: path)
        do {
            try field.withUnsafeBytes { try copy.append($0) }
            try spool.readChunks { try copy.append($0) }
            try copy.finish()
        } catch {
            copy.discard()
            throw error
        }
        return copy
    }
}
