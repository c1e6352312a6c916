// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mailferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mailferry", targets: ["mailferry"]),
        .library(name: "MailFerry", targets: ["MailFerry"]),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Everything testable lives here; the executables are thin.
        .target(name: "MailFerry", dependencies: ["CSQLite", "COpenSSL"]),
        .executableTarget(name: "mailferry", dependencies: ["MailFerry"]),
        // The lab: a private Dovecot on loopback, a seeded legacy corpus. Serves the tests and the demo.
        // Depends on Foundation only, so the lab never shares code paths with what it tests.
        .target(name: "MailFerryLab"),
        .executableTarget(name: "mailferry-lab", dependencies: ["MailFerryLab"]),
        // The benchmark against fetchmail, getmail6 and a raw RETR ceiling (scripts/bench); not part of the tests.
        .executableTarget(name: "mailferry-bench", dependencies: ["MailFerryLab", "MailFerry", "CSQLite", "COpenSSL"]),
        // Golden files are read from the source tree (#filePath), not bundled.
        .testTarget(name: "MailFerryTests", dependencies: ["MailFerry", "MailFerryLab"], exclude: ["Golden"]),
    ]
)
