import Foundation
import MailCore

extension PlanValidator {
    /// `metricsFile`: where each run writes its metrics for node_exporter's textfile collector, which reads only the
    /// files named `*.prom` in its folder (so a temporary file beside it is never read half-written). Resolved
    /// against the workspace; nil when the plan names none (or names it wrongly: a problem says why).
    mutating func metricsFile(_ top: [String: JSONValue]) -> String? {
        guard let text = nonEmptyString(top, "metricsFile", at: "") else { return nil }
        let name = (text as NSString).lastPathComponent
        guard !text.hasSuffix("/"), name.hasSuffix(".prom"), name.count > ".prom".count, !name.hasPrefix(".") else {
            problem(
                "metricsFile",
                "\"\(sanitizeForDisplay(text, limit: 200))\" must be a file name ending in .prom, such as "
                    + "\"/var/lib/prometheus/node-exporter/mailferry.prom\": node_exporter's textfile collector "
                    + "reads only those")
            return nil
        }
        return resolve(text)
    }
}
