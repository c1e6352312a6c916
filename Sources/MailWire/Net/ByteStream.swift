import MailCore
import MailSystem

/// A bidirectional byte stream: a TCP socket or TLS on top of one.
protocol ByteStream: AnyObject {
    /// Reads at most `buffer.count` bytes; returns 0 at end of stream. Throws `MailError(.transient)` on timeout.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Writes every byte or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func close()
}
