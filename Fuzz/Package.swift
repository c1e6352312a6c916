// swift-tools-version:6.0
// Fuzz targets for mailferry's parsers: one libFuzzer executable, the target chosen by MAILFERRY_FUZZ_TARGET.
// Built and run by scripts/fuzz (a release build with -sanitize=fuzzer,address and -enable-testing, in .build-fuzz).
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which is whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "mailferry-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "mailferry-fuzz",
            dependencies: ["CFuzzerDriver", .product(name: "MailFerry", package: root.lastPathComponent)]),
    ]
)
