@testable import MailCore
@testable import MailFerry
@testable import MailSystem
@testable import MailWire

/// The dot-unstuffing body reader (Net/DotUnstuffer.swift): fed in arbitrary chunks it emits exactly what it emits
/// fed whole, stops at the same byte, and both equal the obvious line-by-line decoding.
@Sendable func fuzzDotUnstuffer(_ input: inout FuzzInput) {
    let sizes = (0..<8).map { _ in input.byte() }
    let payload = input.rest()

    var whole = DotUnstuffer()
    var wholeOut: [UInt8] = []
    let wholeUsed = payload.withUnsafeBytes { whole.feed($0) { wholeOut += $0 } }

    var split = DotUnstuffer()
    var splitOut: [UInt8] = []
    var splitUsed = 0
    for chunk in FuzzInput.chunks(payload, sizes: sizes, maxChunk: 64) where !split.finished {
        let used = chunk.withUnsafeBytes { split.feed($0) { splitOut += $0 } }
        require(used <= chunk.count, "consumed \(used) of a \(chunk.count)-byte chunk")
        require(split.finished || used == chunk.count, "stopped early without the terminator")
        splitUsed += used
    }
    require(whole.finished == split.finished, "terminator seen fed whole: \(whole.finished), split: \(split.finished)")
    require(wholeOut == splitOut, "output differs between whole and split feeding")
    require(wholeUsed == splitUsed, "consumed \(wholeUsed) whole, \(splitUsed) split")

    if let expected = referenceUnstuff(payload) {
        require(whole.finished, "the reference found a terminator, the unstuffer did not")
        require(wholeOut == expected.body, "body differs from the reference")
        require(wholeUsed == expected.consumed, "consumed \(wholeUsed), the reference \(expected.consumed)")
    } else {
        require(!whole.finished, "terminator found where the reference saw none")
        require(wholeUsed == payload.count, "without a terminator everything is consumed")
    }
}
