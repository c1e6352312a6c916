import Foundation

/// Values a stranger's header may carry that must never become a path: traversal, separators and their look-alikes,
/// hidden names, NUL and control characters, bidirectional overrides, a name far past NAME_MAX.
enum HostileNames {
    /// Recipients a stranger can write into X-Original-To (or To), and each must be refused as a folder name.
    static let localParts = [
        "../x", "..", "a/b", ".hidden", String(repeating: "l", count: 10_000), "a\u{0}b", "a\u{1}b", "a\u{7F}b",
        "a\u{2215}b", "a\u{FF0F}b", "a\u{2044}b", "a\\b", "../../escaped", "a\u{202E}b",
    ]
}
