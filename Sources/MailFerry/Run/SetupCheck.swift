import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// Something on this machine that keeps a run from working and that no rerun fixes by itself: a folder the run must
/// write that it cannot, a CA file that is no CA bundle. Found before any mail moves (`SetupCheck`), by `run` (which
/// stops with the problem's exit code) and by `check` (a red row each).
public struct SetupProblem: Sendable, Codable, Equatable, CustomStringConvertible {
    /// What kind of trouble, which decides the exit code (sysexits.h).
    public enum Kind: String, Sendable, Codable {
        /// A file or folder mailferry must create or write cannot be (EX_CANTCREAT, 73).
        case cannotCreate
        /// A file mailferry must read cannot be (EX_IOERR, 74).
        case cannotRead
        /// A file the plan names is not what it must be (EX_CONFIG, 78).
        case configuration
    }

    public var kind: Kind
    /// What it is: "the state folder", "the caFile of source isp".
    public var what: String
    public var path: String
    public var cause: String

    public init(_ kind: Kind, _ what: String, path: String, cause: String) {
        self.kind = kind
        self.what = what
        self.path = path
        self.cause = cause
    }

    /// "the state folder state/: cannot write there: Read-only file system" (a folder shown with its "/").
    public var description: String {
        var shown = DisplayPath.relativeToCurrent(path)
        if what.hasSuffix("folder") && !shown.hasSuffix("/") { shown += "/" }
        return "\(what) \(sanitizeForDisplay(shown, limit: 400)): \(cause)"
    }
}

/// What a run needs of this machine before any mail moves: the state folder (its database, lock and spool) and the
/// reports folder writable, the metrics file's folder and the trace file's folder too, and every `caFile` a PEM
/// bundle with at least one certificate. `prepare` (run) creates what is missing and proves each folder can be written by creating and
/// removing a file in it; `inspect` (check, which writes nothing) asks the same questions with access(2).
public enum SetupCheck {
    /// For `run`: what stands in the way, after creating the folders that are missing. Empty: go on. A dry run
    /// writes no report, so its reports folder is only asked about, not created.
    public static func prepare(plan: Plan, trace: String? = nil, dryRun: Bool = false) -> [SetupProblem] {
        var problems: [SetupProblem] = []
        let stateFolder = folder(of: plan.statePath)
        if let cause = makeWritable(stateFolder, mode: 0o700) {
            problems.append(SetupProblem(.cannotCreate, "the state folder", path: stateFolder, cause: cause))
        } else {
            problems += stateFiles(plan.statePath)
        }
        let reports = dryRun ? writableOrCreatable(plan.reportsPath) : makeWritable(plan.reportsPath, mode: 0o750)
        if let cause = reports {
            problems.append(SetupProblem(.cannotCreate, "the reports folder", path: plan.reportsPath, cause: cause))
        }
        problems += metricsFile(plan, create: !dryRun)
        if let trace {
            let traceFolder = folder(of: trace)
            // A trace file that exists is only appended to: its folder need not be writable (/var/log/…).
            if access(trace, F_OK) == 0 {
                if let cause = existingFileProblem(trace, mode: W_OK) {
                    problems.append(SetupProblem(.cannotCreate, "the trace file", path: trace, cause: cause))
                }
            } else if let cause = makeWritable(traceFolder, mode: 0o700) {
                problems.append(SetupProblem(.cannotCreate, "the trace file's folder", path: traceFolder, cause: cause))
            } else if let cause = existingFileProblem(trace, mode: W_OK) {
                problems.append(SetupProblem(.cannotCreate, "the trace file", path: trace, cause: cause))
            }
        }
        return problems + caFiles(plan)
    }

    /// For `check` (`--offline` too): the same questions, writing nothing.
    public static func inspect(plan: Plan) -> [SetupProblem] {
        var problems: [SetupProblem] = []
        let stateFolder = folder(of: plan.statePath)
        if let cause = writableOrCreatable(stateFolder) {
            problems.append(SetupProblem(.cannotCreate, "the state folder", path: stateFolder, cause: cause))
        } else {
            problems += stateFiles(plan.statePath)
        }
        if let cause = writableOrCreatable(plan.reportsPath) {
            problems.append(SetupProblem(.cannotCreate, "the reports folder", path: plan.reportsPath, cause: cause))
        }
        return problems + metricsFile(plan, create: false) + caFiles(plan)
    }

    /// The plan's `metricsFile` (a shard's own, `Plan.metricsPath`): its folder writable, created (0755, so
    /// node_exporter may read it) when `create` and missing, and nothing but a file in its place. The file itself
    /// need not be writable: a new one is renamed over it.
    static func metricsFile(_ plan: Plan, create: Bool) -> [SetupProblem] {
        guard let path = plan.metricsPath else { return [] }
        let metricsFolder = folder(of: path)
        if let cause = create ? makeWritable(metricsFolder, mode: 0o755) : writableOrCreatable(metricsFolder) {
            return [SetupProblem(.cannotCreate, "the metrics file's folder", path: metricsFolder, cause: cause)]
        }
        var info = stat()
        if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
            return [SetupProblem(.cannotCreate, "the metrics file", path: path, cause: "it is a folder, not a file")]
        }
        return []
    }

    /// Every `caFile` of the plan, each file once (with the first source or target that names it).
    static func caFiles(_ plan: Plan) -> [SetupProblem] {
        var named: [(path: String, user: String)] = []
        for source in plan.sources.values.sorted(by: { $0.name < $1.name }) {
            if let file = source.endpoint.tlsSettings.caFile { named.append((file, "source \(source.name)")) }
        }
        for target in plan.targets.values.sorted(by: { $0.name < $1.name }) {
            let endpoint: ServerEndpoint? =
                switch target.kind {
                case .imap(let t): t.endpoint
                case .smtp(let t): t.endpoint
                case .lmtp(let t): t.endpoint
                case .maildir: nil
                }
            if let file = endpoint?.tlsSettings.caFile { named.append((file, "target \(target.name)")) }
        }
        var seen: Set<String> = []
        var problems: [SetupProblem] = []
        for (path, user) in named where seen.insert(path).inserted {
            if let cause = CAFile.problem(path) {
                problems.append(SetupProblem(.configuration, "the caFile of \(user)", path: path, cause: cause))
            }
        }
        return problems
    }

    /// The state database, its write-ahead log and the plan lock, where they exist: each must be readable and
    /// writable (a run opens them read-write).
    static func stateFiles(_ statePath: String) -> [SetupProblem] {
        var problems: [SetupProblem] = []
        for (path, what) in [
            (statePath, "the state database"), (statePath + "-wal", "the state database's log"),
            (statePath + "-shm", "the state database's index"), (statePath + ".lock", "the lock file"),
        ] {
            if let cause = existingFileProblem(path, mode: R_OK | W_OK) {
                problems.append(SetupProblem(.cannotCreate, what, path: path, cause: cause))
            }
        }
        return problems
    }

    public static func folder(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    /// Creates `folder` (and its parents) when missing, then proves a file can be made in it. The reason when not.
    static func makeWritable(_ folder: String, mode: mode_t) -> String? {
        var info = stat()
        if stat(folder, &info) != 0 {
            do {
                try FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(mode)])
            } catch {
                return "cannot create it: " + ErrorText.cause(error)
            }
        } else if info.st_mode & S_IFMT != S_IFDIR {
            return "it is not a folder"
        }
        // access(2) answers EROFS for a read-only mount even for root; a real file answers everything else
        // (root writes where the mode bits say no, a full disk, an ACL, a file system that refuses new files).
        // A probe left by a run killed right here (same pid, as PID 1 in a container) is removed and tried once more.
        let probe = folder + "/.mailferry-probe-\(getpid())"
        let flags = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC
        var fd = open(probe, flags, 0o600)
        if fd < 0 && errno == EEXIST && unlink(probe) == 0 { fd = open(probe, flags, 0o600) }
        guard fd >= 0 else { return "cannot write there: \(errnoText())" }
        close(fd)
        unlink(probe)
        return nil
    }

    /// Whether a folder that may not exist yet could be made and written: the folder itself when it exists, else
    /// the nearest parent that does (it must be a folder mailferry may create in).
    static func writableOrCreatable(_ folder: String) -> String? {
        var path = folder
        while true {
            var info = stat()
            if stat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    return path == folder ? "it is not a folder" : "\(path) is not a folder"
                }
                guard access(path, W_OK | X_OK) == 0 else {
                    let cause = errnoText()
                    return path == folder ? "cannot write there: \(cause)" : "cannot create it in \(path): \(cause)"
                }
                return nil
            }
            let parent = (path as NSString).deletingLastPathComponent
            if parent.isEmpty || parent == path { return "cannot create it: \(errnoText())" }
            path = parent
        }
    }

    /// Nil when `path` does not exist or grants `mode`; else why not.
    static func existingFileProblem(_ path: String, mode: Int32) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        if info.st_mode & S_IFMT == S_IFDIR { return "it is a folder, not a file" }
        guard access(path, mode) == 0 else { return "cannot \(mode & W_OK != 0 ? "write" : "read") it: \(errnoText())" }
        return nil
    }
}
