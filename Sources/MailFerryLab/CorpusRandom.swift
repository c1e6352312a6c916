import Foundation

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and defined bit for bit, so a seed names the same mailbox on every
/// platform and toolchain. Swift's `Hasher` is randomised per process and `Int.random(in:using:)` may change its
/// algorithm between releases; neither can make a corpus reproducible.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `range`; the modulo bias is irrelevant for test data and keeps the algorithm ours.
    mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % span)
    }

    mutating func chance(_ percent: Int) -> Bool {
        int(in: 0...99) < percent
    }

    mutating func pick<Element>(_ choices: [Element]) -> Element {
        choices[int(in: 0...(choices.count - 1))]
    }

    /// A size between `low` and `high`, uniform on a log scale: many small messages, some large, like real mail.
    mutating func logUniform(_ low: Int, _ high: Int) -> Int {
        let unit = Double(next() >> 11) / Double(1 << 53)
        let value = Double(low) * pow(Double(high) / Double(low), unit)
        return min(high, max(low, Int(value)))
    }

    mutating func hex(_ digits: Int) -> String {
        var text = ""
        while text.count < digits {
            text += String(next(), radix: 16, uppercase: true)
        }
        return String(text.prefix(digits))
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count + 8)
        while result.count < count {
            var word = next()
            for _ in 0..<8 {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        result.removeLast(result.count - count)
        return result
    }
}

/// FNV-1a 64 over the UTF-8 of `parts` with a 0 byte between them, mixed through SplitMix64: the stable seed of a
/// mailbox from (user, domain, seed).
func stableSeed(_ parts: [String], _ number: UInt64) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for part in parts {
        for byte in part.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        hash = (hash ^ 0) &* 0x0000_0100_0000_01B3
    }
    var mixer = SplitMix64(seed: hash ^ number)
    return mixer.next()
}
