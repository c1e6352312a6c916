import Foundation
import Glibc

/// The one way the lab starts programs (Dovecot, Postfix, pop3d, openssl, mailferry): posix_spawn with stdin from
/// /dev/null, an empty signal mask and default signal handlers, and no inherited descriptors. Foundation's Process,
/// started off the main thread, hands the child a blocked SIGTERM on Linux; a daemon started that way cannot be
/// stopped politely.
enum LabSpawn {
    /// Where the child's standard output and error go.
    enum Output {
        /// Both into one file, truncated first or appended to.
        case file(String, append: Bool)
        /// Each into its own file (truncated).
        case separate(stdout: String, stderr: String)
        /// This process's own stdout and stderr.
        case inherited
    }

    /// Starts `executable` and returns its pid. `environment` adds to (or replaces) this process's variables;
    /// `newProcessGroup` makes the child lead its own group, so it and its children can be signalled together.
    static func start(
        _ executable: String, _ arguments: [String], output: Output,
        environment: [String: String] = [:], newProcessGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch output {
        case .file(let path, let append):
            posix_spawn_file_actions_addopen(
                &actions, 1, path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC),
                0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .separate(let stdout, let stderr):
            posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        case .inherited:
            break
        }
        if let closeFrom = closeFromAction {
            _ = closeFrom(&actions, 3)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw LabError.posix("posix_spawn(\(executable))", errno: spawned) }
        return pid
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc 2.34+ has `posix_spawn_file_actions_addclosefrom_np`, but the Glibc module does not export it, so it is
    /// looked up at run time; on an older libc the child inherits descriptors that lack close-on-exec.
    private static let closeFromAction: CloseFrom? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()
}

/// How long a lab's server may take to start answering. A bound, not an expectation: a server is ready in well under
/// a second on a quiet machine, but a test run starts a dozen labs at once on two cores, and a lab that gives up too
/// early fails a test that had nothing wrong with it.
enum LabStartup {
    static let readinessTimeout: TimeInterval = 60
}
