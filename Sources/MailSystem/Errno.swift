import Glibc
import MailCore

/// The one place errno becomes text.
package func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// Runs a C call that returns -1 on failure and retries it on EINTR.
@discardableResult
package func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}
