import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Durations a person writes in a plan: a number of seconds, or a number with a unit ("90s", "30m", "6h", "2d").
extension PlanValidator {
    static let durationUnits: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]

    /// `key` as whole seconds within `range`, or nil (a problem reported) when it is something else.
    mutating func duration(
        _ object: [String: JSONValue], _ key: String, at: String, range: ClosedRange<Int>
    ) -> Int? {
        let path = PlanPath.member(at, key)
        let hint = "a number of seconds or a duration like \"30m\", \"6h\" or \"1d\""
        switch object[key] {
        case nil:
            return nil
        case .number(let value)?:
            guard value.isFinite, value == value.rounded(), let seconds = Int(exactly: value) else {
                problem(path, "must be \(hint)")
                return nil
            }
            return inRange(seconds, range, path: path)
        case .string(let text)?:
            let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
            guard let unit = trimmed.last.flatMap({ Self.durationUnits[$0] }),
                let count = Int(trimmed.dropLast().trimmingCharacters(in: .whitespaces)), count >= 0
            else {
                problem(path, "\"\(sanitizeForDisplay(text, limit: 40))\" is not \(hint)")
                return nil
            }
            let (seconds, overflow) = count.multipliedReportingOverflow(by: unit)
            return inRange(overflow ? Int.max : seconds, range, path: path)
        case let other?:
            problem(path, "must be \(hint), found \(other.typeName)")
            return nil
        }
    }

    private mutating func inRange(_ seconds: Int, _ range: ClosedRange<Int>, path: String) -> Int? {
        guard range.contains(seconds) else {
            problem(
                path,
                "must be from \(Self.durationText(range.lowerBound)) to \(Self.durationText(range.upperBound))")
            return nil
        }
        return seconds
    }

    /// "1 s", "6 h", "30 d": the largest unit that divides it.
    static func durationText(_ seconds: Int) -> String {
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size) \(unit)"
        }
        return "\(seconds) s"
    }
}
