import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport

/// Containment in the pure core (SECURITY.md, "Containment"): which values may become one folder name, and the
/// router's refusal of a recipient whose rewritten address could not.
@Suite struct PathComponentTests {
    @Test(arguments: HostileNames.localParts)
    func aHostileValueIsNoFolderName(_ value: String) {
        #expect(PathComponent.problem(value) != nil)
        #expect(PathComponent.addressProblem(value + "@wingtiptoys.com") != nil)
    }

    @Test func ordinaryNamesAreFolderNames() {
        for value in ["chris", "chris.miller", "josé", "kelly+news", "chris@contoso.example", "o'brien", "x-1_2"] {
            #expect(PathComponent.problem(value) == nil, "\(value)")
        }
        #expect(PathComponent.addressProblem("chris@..") != nil)
        #expect(PathComponent.addressProblem("chris@contoso.example") == nil)
    }

    /// The router sends a recipient whose rewritten address cannot be a folder name to the fallback, saying why.
    @Test(arguments: HostileNames.localParts)
    func theRouterSendsAHostileRecipientToTheFallback(_ local: String) throws {
        let router = try Router(
            RoutingRules(
                domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
                fallback: "postmaster@contoso.example"))
        let envelope = RouterTests().envelope([local + "@wingtiptoys.com"])
        let decision = router.route(envelope, headers: HeaderBlock(parsing: []))
        #expect(decision.mailboxes == ["postmaster@contoso.example"])
        #expect(decision.routes.first?.reason.contains("refused as a mailbox name") == true)
        #expect(decision.deliveries.first?.isFallback == true)
    }
}
