import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// A screen as a terminal would show it after `text`: enough of a VT100 for what mailferry writes (CR, LF, erase to
/// end of line, cursor up, colours ignored). What is left on it is what an admin would read.
struct TerminalScreen {
    private(set) var lines: [[Character]] = [[]]
    private var row = 0
    private var column = 0

    init(_ text: String) {
        var characters = Array(text)[...]
        while let c = characters.popFirst() {
            switch c {
            case "\r":
                column = 0
            case "\n", "\r\n":
                row += 1
                column = 0
                while lines.count <= row { lines.append([]) }
            case "\u{1B}":
                guard characters.first == "[" else { continue }
                characters.removeFirst()
                var parameter = ""
                while let next = characters.first, next.isNumber || next == ";" {
                    parameter.append(next)
                    characters.removeFirst()
                }
                switch characters.popFirst() {
                case "K": if column < lines[row].count { lines[row].removeSubrange(column...) }
                case "A": row = max(0, row - (Int(parameter) ?? 1))
                default: break  // colours and anything else leave the text as it is
                }
            default:
                while lines[row].count < column { lines[row].append(" ") }
                if column < lines[row].count { lines[row][column] = c } else { lines[row].append(c) }
                column += 1
            }
        }
    }

    /// The screen's lines, trailing empty ones dropped.
    var text: [String] {
        var result = lines.map { String($0) }
        while result.last?.isEmpty == true { result.removeLast() }
        return result
    }
}

@Suite struct LiveProgressTests {
    /// Reads everything a pipe's write end got, once the writer closed it.
    static func drain(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func linesPrintedWhileAStatusBlockIsShownStayWholeAndTheBlockLeavesNoTrace() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let console = Console(out: fds[1], err: fds[1])
        console.line("mailferry: plan demo")
        console.setStatus(["  alice [███░░░] 3/6", "  bob   [█░░░░░] 1/6", "total [██░░░░] 4/12"])
        console.line("  alice@contoso.example (isp/alice): 6 delivered")
        console.setStatus(["  bob   [███░░░] 3/6", "total [████░░] 9/12"])
        console.error("mailferry: a warning")
        console.setStatus(["  bob   [██████] 6/6", "total [██████] 12/12"])
        console.line("  bob@contoso.example (isp/bob): 6 delivered")
        console.setStatus([])
        console.line("done: 2 mailboxes")
        close(fds[1])
        let raw = Self.drain(fds[0])
        close(fds[0])
        #expect(
            TerminalScreen(raw).text == [
                "mailferry: plan demo",
                "  alice@contoso.example (isp/alice): 6 delivered",
                "mailferry: a warning",
                "  bob@contoso.example (isp/bob): 6 delivered",
                "done: 2 mailboxes",
            ], "\(raw.debugDescription)")
    }

    func progress(color: Bool, mailboxes: Int = 3) -> LiveProgress {
        let console = Console(out: open("/dev/null", O_WRONLY), err: open("/dev/null", O_WRONLY))
        return LiveProgress(
            console: console, lines: ConsoleObserver(console: console, quiet: false),
            mailboxes: mailboxes, color: color)
    }

    @Test func theBlockFitsTheTerminalAndSaysMessagesBytesRateAndETA() {
        let live = progress(color: true, mailboxes: 4)
        defer { live.finish() }
        var state = LiveProgress.State()
        state.order = ["isp/alice", "isp/a-very-long-user-name-that-goes-on"]
        state.active["isp/alice"] = .init(
            address: "alice@contoso.example", planned: (200, 2_000_000),
            messages: 50, bytes: 500_000)
        state.active["isp/a-very-long-user-name-that-goes-on"] = .init(
            address: "a-very-long-user-name-that-goes-on-and-on@contoso.example")
        state.listed = 2
        state.finished = 1
        state.plannedMessages = 300
        state.plannedBytes = 3_000_000
        state.messages = 150
        state.bytes = 1_500_000
        for width in [40, 80, 200] {
            let lines = live.render(state, width: width, elapsed: 10)
            #expect(lines.count == 3)
            for line in lines {
                let visible = TerminalScreen(line).text.joined()
                #expect(visible.count < width, "\(visible) is \(visible.count) wide for \(width)")
            }
        }
        let wide = live.render(state, width: 200, elapsed: 10).map { TerminalScreen($0).text.joined() }
        let quarter = "[" + String(repeating: "█", count: 6) + String(repeating: "░", count: 18) + "]"
        #expect(
            wide[0].hasPrefix("  alice@contoso.example") && wide[0].hasSuffix("\(quarter)  50/200  488.3 KiB"),
            "\(wide[0])")
        #expect(wide[1] == "  a-very-long-user-name-that-goes…  logging in and listing…", "\(wide[1])")
        // Left: 1.5 MB of what is listed, plus two mailboxes not listed yet at the listed ones' average (1.5 MB
        // each), at 150 kB/s: 30 s.
        let half = "[" + String(repeating: "█", count: 10) + String(repeating: "░", count: 10) + "]"
        #expect(
            wide[2] == "total \(half) 150/300 messages · 1.4 MiB of 2.9 MiB · 15 msg/s · 146.5 KiB/s · "
                + "ETA 0:30 · 1/4 mailboxes done", "\(wide[2])")
        #expect(live.render(state, width: 200, elapsed: 10).joined().contains("\u{1B}[32m"))
    }

    @Test func noColorMeansNoEscapeSequencesInTheBlock() {
        let live = progress(color: false)
        defer { live.finish() }
        var state = LiveProgress.State()
        state.order = ["isp/alice"]
        state.active["isp/alice"] = .init(address: "alice@contoso.example", planned: (2, 20), messages: 1, bytes: 10)
        state.listed = 1
        let text = live.render(state, width: 100, elapsed: 3).joined(separator: "\n")
        #expect(!text.contains("\u{1B}"), "\(text.debugDescription)")
        #expect(
            text.contains("[" + String(repeating: "█", count: 12) + String(repeating: "░", count: 12) + "]"),
            "\(text)")
    }

    @Test func clockAndFit() {
        #expect(LiveProgress.clock(0.2) == "0:01")
        #expect(LiveProgress.clock(3725) == "1:02:05")
        #expect(LiveProgress.fit("abcdef", 4) == "abc…")
        #expect(LiveProgress.fit("abc", 4) == "abc")
    }

    /// `mailferry run` under a pseudo-terminal (util-linux `script`): the live view is drawn, and what is left on
    /// the screen at the end is exactly the cron-style lines, none garbled. With NO_COLOR no colour is sent; with
    /// `--no-progress`, or not on a terminal, no live view at all.
    @Test func aRunOnATerminalDrawsProgressAndLeavesCleanLines() throws {
        let e2e = try EndToEnd("live", counts: ["alice": 60, "bob": 40, "carol": 30])
        func onTerminal(_ extra: [String], environment: [String: String]) throws -> String {
            let command = ([EndToEnd.binary, "run", e2e.planFile] + extra).map { "'\($0)'" }.joined(separator: " ")
            let child = try ChildProcess(
                "/usr/bin/script", ["-qfec", command, "/dev/null"],
                environment: environment.merging(["COLUMNS": "150", "TERM": "xterm"]) { a, _ in a })
            let (code, out, err) = child.finish(within: 300, "mailferry run under script")
            #expect(code == 0, "\(out) \(err)")
            return out
        }

        // An empty NO_COLOR counts as unset (no-color.org); the test runner may have set one for its own output.
        let raw = try onTerminal([], environment: ["NO_COLOR": ""])
        #expect(raw.contains("total ["), "\(raw.debugDescription)")
        #expect(raw.contains("\u{1B}[32m"))
        let screen = TerminalScreen(raw).text
        #expect(screen.count == 6, "\(screen)")
        #expect(screen.first?.hasPrefix("mailferry: plan e2e, 3 mailboxes, run ") == true, "\(screen)")
        for user in ["alice", "bob", "carol"] {
            #expect(
                screen.filter { $0.hasPrefix("  \(user)@contoso.example (isp/\(user)):") }.count == 1,
                "\(screen)")
        }
        #expect(screen.contains { $0.hasPrefix("done: 3 mailboxes, 130 messages delivered") }, "\(screen)")
        #expect(!screen.contains { $0.contains("total [") || $0.contains("█") }, "\(screen)")
        try e2e.expectExactlyOnce("alice")

        // Nothing new: the same lines, no colour under NO_COLOR.
        let plain = try onTerminal([], environment: ["NO_COLOR": "1"])
        #expect(!plain.contains("\u{1B}[3"), "\(plain.debugDescription)")
        #expect(TerminalScreen(plain).text.contains { $0.hasPrefix("done: 3 mailboxes, 0 messages delivered") })
        let off = try onTerminal(["--no-progress"], environment: ["NO_COLOR": ""])
        #expect(!off.contains("\u{1B}"), "\(off.debugDescription)")

        // Not a terminal (cron): no escape sequence at all.
        let cron = try e2e.run()
        #expect(cron.code == 0 && !cron.out.contains("\u{1B}") && !cron.err.contains("\u{1B}"), "\(cron.out)")
    }
}
