import CBuildInfo

extension MailFerryCLI {
    /// The commit this binary was built from (`git rev-parse HEAD`, given by scripts/package), or "unknown" for a
    /// build made without it.
    public static let commit = String(cString: mailferry_build_commit())

    /// What `mailferry --version` prints: `mailferry 0.1.0 (commit 3bcc15c…)`, so a bug report names the build.
    public static var versionLine: String { "mailferry \(version) (commit \(commit))" }
}
