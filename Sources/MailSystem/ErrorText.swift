import Foundation
import Glibc
import MailCore

/// The one place an error becomes text a person reads: console lines, reports, the state's last error. Our own
/// errors already are sentences (`MailError`, plan problems, refusals: their `description`); what Foundation throws
/// (`CocoaError` from `FileManager`, an `NSError`) is turned into "PATH: cause" with the operating system's own words
/// for the cause ("Read-only file system"), never an `Error Domain=... UserInfo={...}` dump.
package enum ErrorText {
    package static func sentence(_ error: any Error) -> String {
        if let mail = error as? MailError { return mail.message }
        if let cocoa = error as? CocoaError { return foundation(cocoa as NSError) }
        if let posix = error as? POSIXError { return errnoText(posix.code.rawValue) }
        let bridged = error as NSError
        if bridged.domain == NSCocoaErrorDomain || bridged.domain == NSPOSIXErrorDomain {
            return foundation(bridged)
        }
        // Our own errors are sentences already (their `description`).
        return String(describing: error)
    }

    /// The cause alone, for a caller whose sentence names the path already ("cannot create the folder X: " +
    /// cause): Foundation's path is left out; any other error is its `sentence`.
    package static func cause(_ error: any Error) -> String {
        let bridged = error as NSError
        if error is CocoaError || bridged.domain == NSCocoaErrorDomain || bridged.domain == NSPOSIXErrorDomain {
            return foundation(bridged, withPath: false)
        }
        return sentence(error)
    }

    /// "PATH: cause", the cause from the underlying errno when Foundation kept it, else from the code.
    static func foundation(_ error: NSError, withPath: Bool = true) -> String {
        let path =
            withPath
            ? (error.userInfo[NSFilePathErrorKey] as? String) ?? (error.userInfo[NSURLErrorKey] as? URL)?.path
            : nil
        var cause: String
        if error.domain == NSPOSIXErrorDomain {
            cause = errnoText(Int32(error.code))
        } else if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError,
            underlying.domain == NSPOSIXErrorDomain
        {
            cause = errnoText(Int32(underlying.code))
        } else if let code = errnoEquivalent[error.code] {
            cause = errnoText(code)
        } else {
            cause = error.localizedDescription
            while cause.hasSuffix(".") { cause.removeLast() }
        }
        return path.map { "\($0): \(cause)" } ?? cause
    }

    /// Foundation's file error codes with the errno they stand for (NSFileWriteVolumeReadOnlyError is EROFS...).
    static let errnoEquivalent: [Int: Int32] = [
        CocoaError.fileNoSuchFile.rawValue: ENOENT, CocoaError.fileReadNoSuchFile.rawValue: ENOENT,
        CocoaError.fileReadNoPermission.rawValue: EACCES, CocoaError.fileWriteNoPermission.rawValue: EACCES,
        CocoaError.fileWriteVolumeReadOnly.rawValue: EROFS, CocoaError.fileWriteOutOfSpace.rawValue: ENOSPC,
        CocoaError.fileWriteFileExists.rawValue: EEXIST, CocoaError.fileReadTooLarge.rawValue: EFBIG,
    ]
}
