import Foundation

/// A value behind an `NSLock`.
///
/// `DovecotLab` is a `Sendable` final class that still has to remember whether it has stopped, and the Maildir
/// seeder numbers files across labs. `Synchronization.Mutex` would do, but the lab promises Foundation and Glibc only.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
