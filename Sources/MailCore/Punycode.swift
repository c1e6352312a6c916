/// Punycode (RFC 3492): the Bootstring encoding IDNA uses to write a Unicode label with the letters, digits and hyphen
/// DNS allows. Pure functions over code points; `HostName.ascii` builds the "xn--" labels from it.
public enum Punycode {
    // RFC 3492 §5: the parameter values for Punycode.
    private static let base = 36
    private static let tMin = 1
    private static let tMax = 26
    private static let skew = 38
    private static let damp = 700
    private static let initialBias = 72
    private static let initialN = 128
    /// RFC 3492 §6.4 assumes at least 26-bit integers; the sample code's limit is that of a 32-bit unsigned one.
    private static let maxInt = Int(UInt32.max)

    /// Encodes `input` (RFC 3492 §6.3): the basic code points in order, a "-" when there were any, then the deltas
    /// of the others. Basic code points keep their case; the digits are written in lower case. Nil on overflow (a
    /// label far longer than DNS allows).
    public static func encode(_ input: [UInt32]) -> String? {
        var output: [UInt8] = input.filter { $0 < 0x80 }.map { UInt8($0) }
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append(0x2D) }
        var n = initialN
        var delta = 0
        var bias = initialBias
        while handled < input.count {
            // The smallest code point not handled yet.
            guard let m = input.map(Int.init).filter({ $0 >= n }).min() else { return nil }
            guard m - n <= (maxInt - delta) / (handled + 1) else { return nil }
            delta += (m - n) * (handled + 1)
            n = m
            for scalar in input.map(Int.init) {
                if scalar < n {
                    delta += 1
                    guard delta <= maxInt else { return nil }
                }
                guard scalar == n else { continue }
                var q = delta
                var k = base
                while true {
                    let t = threshold(k, bias: bias)
                    if q < t { break }
                    output.append(digit(t + (q - t) % (base - t)))
                    q = (q - t) / (base - t)
                    k += base
                }
                output.append(digit(q))
                bias = adapt(delta, points: handled + 1, first: handled == basicCount)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes `text` (RFC 3492 §6.2): everything before the last "-" is copied as basic code points, the rest are
    /// deltas. Digits are read in either case. Nil when the text is not valid Punycode: a non-basic character before
    /// the delimiter, a character that is not a digit after it, a delta that ends early, overflow, or a decoded code
    /// point that is basic (IDNA forbids encoding those) or not a Unicode scalar.
    public static func decode(_ text: String) -> [UInt32]? {
        let bytes = Array(text.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        let delimiter = bytes.lastIndex(of: 0x2D)
        var output: [UInt32] = delimiter.map { bytes[..<$0].map(UInt32.init) } ?? []
        var index = delimiter.map { $0 + 1 } ?? 0
        var n = initialN
        var i = 0
        var bias = initialBias
        while index < bytes.count {
            let oldI = i
            var w = 1
            var k = base
            while true {
                guard index < bytes.count, let digit = digitValue(bytes[index]) else { return nil }
                index += 1
                guard digit <= (maxInt - i) / w else { return nil }
                i += digit * w
                let t = threshold(k, bias: bias)
                if digit < t { break }
                guard w <= maxInt / (base - t) else { return nil }
                w *= base - t
                k += base
            }
            let count = output.count + 1
            bias = adapt(i - oldI, points: count, first: oldI == 0)
            guard i / count <= maxInt - n else { return nil }
            n += i / count
            i %= count
            guard n >= 0x80, n <= 0x10FFFF, !(0xD800...0xDFFF).contains(n) else { return nil }
            output.insert(UInt32(n), at: i)
            i += 1
        }
        return output
    }

    /// RFC 3492 §6.1: the bias adaptation after each delta.
    private static func adapt(_ delta: Int, points: Int, first: Bool) -> Int {
        var delta = first ? delta / damp : delta / 2
        delta += delta / points
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (((base - tMin + 1) * delta) / (delta + skew))
    }

    /// RFC 3492 §6.2/§6.3: t for position k, clamped to tmin...tmax.
    private static func threshold(_ k: Int, bias: Int) -> Int {
        k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
    }

    /// 0-25 as "a"-"z", 26-35 as "0"-"9" (RFC 3492 §5).
    private static func digit(_ value: Int) -> UInt8 {
        value < 26 ? UInt8(0x61 + value) : UInt8(0x30 + value - 26)
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte) - 0x30 + 26
        case 0x41...0x5A: Int(byte) - 0x41
        case 0x61...0x7A: Int(byte) - 0x61
        default: nil
        }
    }
}
