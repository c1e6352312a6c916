import MailCore
import MailSystem

/// A bidirectional byte stream: a TCP socket or TLS on top of one.
protocol ByteStream: AnyObject {
    /// Reads at most `buffer.count` bytes; returns 0 at end of stream. Throws `MailError(.transient)` on timeout.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Reads what has already arrived, without waiting: nil when nothing has, 0 at end of stream. For the check that
    /// a server sent nothing no command asked for (`Connection.expectQuiet`).
    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int?
    /// Writes every byte or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func close()
}

extension ByteStream {
    /// A stream that cannot tell what has arrived (an in-memory one: the fuzz targets) reports nothing.
    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? { nil }
}
