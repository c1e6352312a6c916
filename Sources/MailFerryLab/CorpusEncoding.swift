/// The content transfer encodings the corpus writes (RFC 2045 §6.7, §6.8; RFC 2047 §4), written out here so the
/// bytes never depend on a library's line-length or line-ending choices.
enum CorpusEncoding {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func base64(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output += [18, 12, 6, 0].map { alphabet[Int(value >> $0 & 0x3F)] }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            output += [18, 12].map { alphabet[Int(value >> $0 & 0x3F)] }
            output.append(rest == 2 ? alphabet[Int(value >> 6 & 0x3F)] : UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Base64 in lines of 76 characters, as MIME body parts carry it.
    static func base64Lines(_ bytes: [UInt8]) -> [String] {
        let text = Array(base64(bytes).utf8)
        return stride(from: 0, to: text.count, by: 76).map {
            String(decoding: text[$0..<min($0 + 76, text.count)], as: UTF8.self)
        }
    }

    /// Quoted-printable lines of at most 76 characters, soft line breaks ending in "=".
    static func quotedPrintable(_ lines: [String]) -> [String] {
        var output: [String] = []
        for line in lines {
            var current = ""
            let bytes = Array(line.utf8)
            for (offset, byte) in bytes.enumerated() {
                let isLast = offset == bytes.count - 1
                let token: String
                if byte == UInt8(ascii: "=") || byte >= 0x7F || (byte == UInt8(ascii: " ") && isLast) {
                    token = "=" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                } else {
                    token = String(UnicodeScalar(byte))
                }
                if current.utf8.count + token.utf8.count > 75 {
                    output.append(current + "=")
                    current = ""
                }
                current += token
            }
            output.append(current)
        }
        return output
    }

    /// An RFC 2047 encoded-word, B encoding, UTF-8.
    static func encodedWord(_ text: String) -> String {
        "=?UTF-8?B?\(base64(Array(text.utf8)))?="
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        String(repeating: String(pad), count: max(0, width - count)) + self
    }
}
