import Foundation
import Glibc

/// Host names as a plan or a server gives them.
public enum HostName {
    /// Whether `host` is an IPv4 or IPv6 address literal rather than a domain name: TLS matches such a host against the
    /// certificate's IP addresses and never sends it as SNI (RFC 6066 §3), and the plan accepts it where a domain is
    /// expected.
    public static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
