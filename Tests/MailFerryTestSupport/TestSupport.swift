import Foundation

/// A fresh temporary folder per test, removed by `cleanup()`.
struct TempFolder {
    let path: String

    init(_ label: String = "test") {
        let base = NSTemporaryDirectory() + "mailferry-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    func file(_ name: String, _ contents: String, mode: Int = 0o600) -> String {
        let full = "\(path)/\(name)"
        try! FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        _ = FileManager.default.createFile(
            atPath: full, contents: Data(contents.utf8),
            attributes: [.posixPermissions: mode])
        return full
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
