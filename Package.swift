// swift-tools-version:6.0
import Foundation
import PackageDescription

// The layers, lowest first. Each target may import only what it lists: `scripts/check-layers` proves a wrong-way
// import fails to build (docs/design.md, "Layers").
//
//   MailCore       messages, headers, addresses, dates, envelope recovery, routing. Foundation only, no I/O.
//   MailSystem     the operating system: files and spools, processes, signals, crash and fault points.
//   MailWire       sockets, TLS, line reader; the POP3, IMAP, SMTP and LMTP clients with their typed errors.
//   MailStore      SQLite: schema, per-message checkpoints, group commit.
//   MailFerry      the engine: plan, targets, mailbox runs, reconciliation, retention, reports.
//   MailFerryCommandLine  commands, help, exit codes, console, live progress.
//   mailferry      `main` alone.
// The commit `mailferry --version` names: scripts/package sets MAILFERRY_COMMIT (`git rev-parse HEAD`); a build
// without it says "unknown". Only hex digits pass, so the value cannot become anything but a C string literal.
let commit = String((ProcessInfo.processInfo.environment["MAILFERRY_COMMIT"] ?? "").filter(\.isHexDigit).prefix(40))

let strict: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"])
]

let package = Package(
    name: "mailferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mailferry", targets: ["mailferry"]),
        // The layers below the command line, for the fuzz targets (Fuzz/).
        .library(name: "MailFerry", targets: ["MailCore", "MailSystem", "MailWire", "MailStore", "MailFerry"]),
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
        // The build's commit, for `mailferry --version` (a C define is the one way to take it from the build in).
        .target(
            name: "CBuildInfo",
            cSettings: [.define("MAILFERRY_COMMIT", to: "\"\(commit.isEmpty ? "unknown" : commit)\"")]
        ),
        .target(name: "MailCore", swiftSettings: strict),
        .target(name: "MailSystem", dependencies: ["MailCore", "COpenSSL"], swiftSettings: strict),
        .target(name: "MailWire", dependencies: ["MailCore", "MailSystem", "COpenSSL"], swiftSettings: strict),
        .target(name: "MailStore", dependencies: ["MailCore", "MailSystem", "CSQLite"], swiftSettings: strict),
        .target(
            name: "MailFerry",
            dependencies: ["MailCore", "MailSystem", "MailWire", "MailStore"],
            swiftSettings: strict
        ),
        .target(
            name: "MailFerryCommandLine",
            dependencies: ["MailCore", "MailSystem", "MailWire", "MailStore", "MailFerry", "CBuildInfo"],
            swiftSettings: strict
        ),
        .executableTarget(name: "mailferry", dependencies: ["MailFerryCommandLine"], swiftSettings: strict),
        // The lab: a private Dovecot on loopback, a seeded legacy corpus. Serves the tests and the demo.
        // Depends on Foundation only, so the lab never shares code paths with what it tests.
        .target(name: "MailFerryLab", swiftSettings: strict),
        .executableTarget(name: "mailferry-lab", dependencies: ["MailFerryLab"], swiftSettings: strict),
        // The benchmark against fetchmail, getmail6 and a raw RETR ceiling (scripts/bench); not part of the tests.
        .executableTarget(
            name: "mailferry-bench",
            dependencies: [
                "MailFerryLab", "MailCore", "MailSystem", "MailWire", "MailStore", "MailFerry", "CSQLite",
                "COpenSSL",
            ],
            swiftSettings: strict
        ),
        // The tests mirror the layers; fake servers, the envelope corpus and the helpers that run the real binary
        // are a target of their own, which knows nothing of mailferry but MailCore's types.
        .target(
            name: "MailFerryTestSupport",
            dependencies: ["MailCore", "MailFerryLab", "COpenSSL", "CSQLite"],
            path: "Tests/MailFerryTestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "MailCoreTests", dependencies: ["MailCore", "MailFerryTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "MailWireTests",
            dependencies: ["MailCore", "MailSystem", "MailWire", "MailFerryTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MailStoreTests",
            dependencies: ["MailCore", "MailSystem", "MailStore", "MailFerryTestSupport"],
            swiftSettings: strict
        ),
        // The engine, the command line and everything end to end (the real binary against real servers).
        // Golden files are read from the source tree (#filePath), not bundled.
        .testTarget(
            name: "MailFerryTests",
            dependencies: [
                "MailCore", "MailSystem", "MailWire", "MailStore", "MailFerry", "MailFerryCommandLine",
                "MailFerryLab", "MailFerryTestSupport",
            ],
            exclude: ["Golden"],
            swiftSettings: strict
        ),
    ]
)
