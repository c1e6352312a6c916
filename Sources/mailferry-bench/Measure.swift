import Foundation
import Glibc
import MailCore
import MailFerry
import MailFerryLab
import MailStore
import MailSystem
import MailWire

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// One timed run of a tool: wall time from spawn to exit, and the child's peak RSS (its VmHWM).
struct Measurement {
    var seconds: Double
    var peakRSSKiB: Int
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Measure {
    /// Runs `executable` to the end and measures it; the children of the child are not counted (none of the tools
    /// starts any in the configurations used here).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
        throws -> Measurement
    {
        let started = Date()
        let child = try ChildProcess(executable, arguments, environment: environment)
        defer { child.removeOutput() }
        // Not wait4's ru_maxrss: Linux folds the spawning process's own peak (this benchmark holds a lot) into the
        // child's at exec. The child's VmHWM (its own address space's high-water mark) is read every 5 ms instead;
        // it only grows, so all a late read can miss is the last few milliseconds before exit.
        var peak = 0
        var raw: Int32 = 0
        while true {
            peak = max(peak, highWaterMark(child.pid))
            let rc = waitpid(child.pid, &raw, WNOHANG)
            if rc == child.pid || (rc < 0 && errno != EINTR) { break }
            usleep(5_000)
        }
        let seconds = Date().timeIntervalSince(started)
        let status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return Measurement(
            seconds: seconds, peakRSSKiB: peak, status: status, stdout: child.stdout,
            stderr: child.stderr)
    }

    /// VmHWM of a running process, in KiB (0 once it has exited).
    static func highWaterMark(_ pid: pid_t) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Times work done in this process (the raw ceiling).
    static func inProcess(_ work: () throws -> Void) rethrows -> Double {
        let started = Date()
        try work()
        return Date().timeIntervalSince(started)
    }
}
