import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// How every command loads its plan: on a problem, the problems as a compiler prints them and, where the command
/// says what it did not do, one closing line ("mailferry run: 2 problems in the plan; nothing was run"). Nil then:
/// the command exits 2.
func loadPlan(_ file: String, command: String, nothingDone: String? = nil, console: Console) -> Plan? {
    do {
        return try PlanLoader.load(file)
    } catch let error as PlanError {
        console.error(error.description)
        if let nothingDone { console.error("mailferry \(command): \(error.countText) in the plan; \(nothingDone)") }
    } catch {
        console.error("\(file): \(ErrorText.sentence(error))")
    }
    return nil
}
