import COpenSSL
import MailCore
import MailSystem

/// MD5 and HMAC-MD5 (OpenSSL), only for the legacy challenge-response logins APOP (RFC 1939 §7) and CRAM-MD5
/// (RFC 2195), which old POP3 servers still offer. Never used for content identity.
enum LegacyDigest {
    static func md5Hex(_ data: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        _ = data.withUnsafeBytes { bytes in
            EVP_Digest(bytes.baseAddress, bytes.count, &digest, &length, EVP_md5(), nil)
        }
        return hexString(digest[0..<Int(length)])
    }

    static func hmacMD5Hex(key: [UInt8], data: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        _ = key.withUnsafeBytes { keyBytes in
            data.withUnsafeBytes { dataBytes in
                HMAC(
                    EVP_md5(), keyBytes.baseAddress, Int32(keyBytes.count),
                    dataBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), dataBytes.count, &digest, &length)
            }
        }
        return hexString(digest[0..<Int(length)])
    }
}
