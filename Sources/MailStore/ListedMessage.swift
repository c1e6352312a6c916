import Foundation

/// A message as a source lists it, as far as the store cares: its unique id and its size. The store keeps one row
/// per unique id; the engine hands over its source's listing entries (a POP3 UIDL listing) through this.
public protocol ListedMessage {
    var uidl: String { get }
    var size: Int { get }
}
