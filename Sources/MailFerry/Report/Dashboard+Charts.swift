import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The dashboard's charts: inline SVG, well-formed XML (every text escaped), sized by viewBox so they scale with
/// the page. No script, no external reference.
enum Charts {
    struct Bar {
        var label: String
        var value: Int
        /// Shown on hover (the SVG <title>).
        var tooltip: String
        /// A second line under the label (a run's time under its day).
        var sublabel: String? = nil
        /// Instead of the chart's colour (a run that did not end well).
        var color: String? = nil
        /// Written after the value above the bar ("exit 1").
        var note: String? = nil
    }

    struct Marker {
        /// Index of the bar the line stands at (its left edge).
        var index: Int
        var label: String
        var color: String
    }

    /// The drawing's width in SVG units; a chart in a half-width panel uses a smaller one so its text stays legible.
    static let fullWidth = 1080.0
    static let axisColor = "#d5dbe5"
    static let textColor = "#6b7280"

    /// A vertical bar chart with a light grid, y-axis ticks, a few x labels and vertical markers.
    static func bars(
        _ bars: [Bar], width: Double = fullWidth, height: Double = 240, color: String,
        markers: [Marker] = [], xLabelEvery: Int? = nil, title: String
    ) -> String {
        let left = 48.0
        let right = 16.0
        let top = markers.isEmpty ? 26.0 : 44.0
        let bottom = bars.contains { $0.sublabel != nil } ? 48.0 : 34.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let maximum = niceCeiling(bars.map(\.value).max() ?? 0)
        var svg = open(width: width, height: height, title: title)
        for step in 0...4 {
            let value = maximum * step / 4
            let y = top + plotHeight - plotHeight * Double(value) / Double(maximum)
            svg += line(left, y, width - right, y, step == 0 ? "#b8c1cf" : "#eef1f6")
            svg += text(left - 8, y + 4, grouped(value), anchor: "end")
        }
        let slot = plotWidth / Double(max(bars.count, 1))
        let barWidth = max(1, min(slot * 0.72, 48))
        // Every bar's label when they fit side by side (about 6.6 units a character at 12 px), else every n-th.
        let longest = bars.map { max($0.label.count, $0.sublabel?.count ?? 0) }.max() ?? 0
        let every = xLabelEvery ?? max(1, Int(((Double(longest) * 6.6 + 10) / slot).rounded(.up)))
        for (index, bar) in bars.enumerated() {
            let x = left + slot * Double(index) + (slot - barWidth) / 2
            let h = plotHeight * Double(bar.value) / Double(maximum)
            if bar.value > 0 {
                svg +=
                    "<rect x=\"\(f(x))\" y=\"\(f(top + plotHeight - h))\" width=\"\(f(barWidth))\" "
                    + "height=\"\(f(max(h, 1)))\" rx=\"\(f(min(3, barWidth / 3)))\" fill=\"\(bar.color ?? color)\">"
                    + "<title>\(escape(bar.tooltip))</title></rect>"
            }
            if index % every == 0 {
                svg += text(left + slot * (Double(index) + 0.5), top + plotHeight + 18, bar.label, anchor: "middle")
                if let sublabel = bar.sublabel {
                    svg += text(left + slot * (Double(index) + 0.5), top + plotHeight + 33, sublabel, anchor: "middle")
                }
            }
        }
        if bars.count <= 24 {
            for (index, bar) in bars.enumerated() where bar.value > 0 || bar.note != nil {
                let h = plotHeight * Double(bar.value) / Double(maximum)
                svg += text(
                    left + slot * (Double(index) + 0.5), top + plotHeight - h - 6,
                    grouped(bar.value) + (bar.note.map { " · " + $0 } ?? ""),
                    anchor: "middle", color: "#374151", weight: "600")
            }
        }
        svg += markerLines(markers, at: { left + slot * Double($0) }, top: top, axis: top + plotHeight, width: width)
        return svg + "</svg>"
    }

    /// Dashed vertical lines with their labels above the plot; `at` gives a bar index's x. A label close to the
    /// previous one goes one line lower, so they never print over each other.
    static func markerLines(
        _ markers: [Marker], at: (Int) -> Double, top: Double, axis: Double, width: Double
    ) -> String {
        var svg = ""
        var lastX = -1000.0
        var lastRow = 1
        for marker in markers {
            let x = at(marker.index)
            let row = x - lastX < 120 && lastRow == 0 ? 1 : 0
            (lastX, lastRow) = (x, row)
            let labelY = top - 24 + Double(row) * 14
            svg +=
                "<line x1=\"\(f(x))\" y1=\"\(f(labelY + 4))\" x2=\"\(f(x))\" y2=\"\(f(axis))\" "
                + "stroke=\"\(marker.color)\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>"
            let anchor = x > width - 140 ? "end" : "start"
            svg += text(
                x + (anchor == "end" ? -5 : 5), labelY, marker.label, anchor: anchor, color: marker.color,
                weight: "600")
        }
        return svg
    }

    /// Horizontal bars with a label on the left and the count on the right (errors by category).
    static func horizontal(
        _ rows: [(label: String, value: Int, color: String)], width: Double = fullWidth,
        title: String
    ) -> String {
        let rowHeight = 34.0
        let left = 140.0
        let right = 50.0
        let height = Double(rows.count) * rowHeight + 12
        let maximum = Double(max(rows.map(\.value).max() ?? 1, 1))
        var svg = open(width: width, height: height, title: title)
        for (index, row) in rows.enumerated() {
            let y = 6 + Double(index) * rowHeight
            let w = (width - left - right) * Double(row.value) / maximum
            svg += text(left - 12, y + 20, row.label, anchor: "end", color: "#374151", size: 14)
            svg +=
                "<rect x=\"\(f(left))\" y=\"\(f(y + 6))\" width=\"\(f(width - left - right))\" height=\"20\" "
                + "rx=\"4\" fill=\"#f1f4f8\"/>"
            svg +=
                "<rect x=\"\(f(left))\" y=\"\(f(y + 6))\" width=\"\(f(max(w, 3)))\" height=\"20\" rx=\"4\" "
                + "fill=\"\(row.color)\"><title>\(escape("\(row.label): \(row.value)"))</title></rect>"
            svg += text(
                width - right + 10, y + 21, grouped(row.value), anchor: "start", color: "#111827",
                weight: "600", size: 14)
        }
        return svg + "</svg>"
    }

    // MARK: - Pieces

    static func open(width: Double, height: Double, title: String) -> String {
        "<svg viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" "
            + "aria-label=\"\(escape(title))\" class=\"chart\"><title>\(escape(title))</title>"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ color: String) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" stroke-width=\"1\"/>"
    }

    static func text(
        _ x: Double, _ y: Double, _ content: String, anchor: String, color: String = textColor,
        weight: String = "400", size: Int = 12
    ) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" fill=\"\(color)\" font-size=\"\(size)\" "
            + "font-weight=\"\(weight)\">\(escape(content))</text>"
    }

    /// 1, 2, 2.5 or 5 times a power of ten, at least `value` (and at least 4, so ticks are whole numbers).
    static func niceCeiling(_ value: Int) -> Int {
        guard value > 4 else { return 4 }
        var magnitude = 1
        while magnitude * 10 <= value { magnitude *= 10 }
        for factor in [1, 2, 4, 5, 8, 10] where factor * magnitude >= value && (factor * magnitude) % 4 == 0 {
            return factor * magnitude
        }
        return 10 * magnitude
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// 12,345
    static func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// HTML and XML text and attribute values: & < > " ' escaped, control characters dropped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out += " "
            default:
                // XML 1.0 allows no other C0 controls; C1 controls and non-characters have no business on the page.
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0xFFFE
                    || scalar.value == 0xFFFF
                {
                    continue
                }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
