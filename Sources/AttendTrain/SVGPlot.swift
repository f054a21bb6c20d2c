// Minimal SVG charts for result pages: labelled points or lines on linear or logarithmic axes with a
// legend. Hand-written (no plotting library is available), small and deterministic, so the committed
// plots diff cleanly.
import Foundation

/// A chart of named series rendered as an SVG document.
public struct SVGPlot {
    /// A named series of (x, y) points.
    public struct Series {
        /// The legend entry.
        public let name: String
        /// The points in drawing order.
        public let points: [(x: Double, y: Double)]
        /// A series called `name` through `points`.
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    /// The heading above the chart.
    public var title: String
    /// Axis titles.
    public var xLabel: String, yLabel: String
    /// Logarithmic axes (for lengths and throughputs that span decades).
    public var logX = false, logY = false
    /// Connect each series' points with lines (else: markers only, labelled with the series name).
    public var connect = true
    /// The series, drawn in order with one colour each.
    public var series: [Series] = []

    /// An empty chart with linear axes.
    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
        "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#843c39", "#7b4173",
    ]

    /// The SVG document.
    public func rendered(width: Double = 720, height: Double = 460) -> String {
        let (left, right, top, bottom) = (70.0, 180.0, 40.0, 55.0)
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let all = series.flatMap(\.points).filter { (!logX || $0.x > 0) && (!logY || $0.y > 0) }
        func transform(_ v: Double, _ log: Bool) -> Double { log ? Foundation.log10(v) : v }
        let xs = all.map { transform($0.x, logX) }, ys = all.map { transform($0.y, logY) }
        var (xMin, xMax) = (xs.min() ?? 0, xs.max() ?? 1)
        var (yMin, yMax) = (ys.min() ?? 0, ys.max() ?? 1)
        if xMax - xMin < 1e-12 { (xMin, xMax) = (xMin - 0.5, xMax + 0.5) }
        if yMax - yMin < 1e-12 { (yMin, yMax) = (yMin - 0.5, yMax + 0.5) }
        let xPad = (xMax - xMin) * 0.05, yPad = (yMax - yMin) * 0.08
        (xMin, xMax, yMin, yMax) = (xMin - xPad, xMax + xPad, yMin - yPad, yMax + yPad)
        func px(_ x: Double) -> Double {
            left + (transform(x, logX) - xMin) / (xMax - xMin) * plotWidth
        }
        func py(_ y: Double) -> Double {
            top + plotHeight - (transform(y, logY) - yMin) / (yMax - yMin) * plotHeight
        }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="22" font-size="15" font-weight="bold">\(escape(title))</text>
            <rect x="\(left)" y="\(top)" width="\(plotWidth)" height="\(plotHeight)" fill="none" stroke="#444"/>

            """
        for (value, label) in ticks(xMin, xMax, log: logX) {
            let x = left + (value - xMin) / (xMax - xMin) * plotWidth
            svg +=
                "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight))\" stroke=\"#eee\"/>"
            svg +=
                "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">\(label)</text>\n"
        }
        for (value, label) in ticks(yMin, yMax, log: logY) {
            let y = top + plotHeight - (value - yMin) / (yMax - yMin) * plotHeight
            svg +=
                "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#eee\"/>"
            svg +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(label)</text>\n"
        }
        svg +=
            "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg +=
            "<text transform=\"translate(16,\(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let color = SVGPlot.palette[i % SVGPlot.palette.count]
            let points = s.points.filter { (!logX || $0.x > 0) && (!logY || $0.y > 0) }
            if connect && points.count > 1 {
                let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                svg +=
                    "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            }
            for p in points {
                svg +=
                    "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"4\" fill=\"\(color)\"/>\n"
                if !connect {
                    svg +=
                        "<text x=\"\(f(px(p.x) + 6))\" y=\"\(f(py(p.y) - 6))\" fill=\"\(color)\">\(escape(s.name))</text>\n"
                }
            }
            let ly = top + 14 + Double(i) * 18
            svg +=
                "<rect x=\"\(f(width - right + 14))\" y=\"\(f(ly - 9))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg +=
                "<text x=\"\(f(width - right + 32))\" y=\"\(f(ly + 1))\">\(escape(s.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Tick positions (in transformed units) and labels.
    private func ticks(_ low: Double, _ high: Double, log: Bool) -> [(Double, String)] {
        if log {
            return
                (Int(low.rounded(.up))...Swift.max(Int(low.rounded(.up)), Int(high.rounded(.down))))
                .map { e in
                    (Double(e), label(Foundation.pow(10, Double(e))))
                }
        }
        let rawStep = (high - low) / 6
        let magnitude = Foundation.pow(10, (Foundation.log10(rawStep)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rawStep } ?? rawStep
        var v = (low / step).rounded(.up) * step
        var result: [(Double, String)] = []
        while v <= high {
            result.append((v, label(v)))
            v += step
        }
        return result
    }

    private func label(_ v: Double) -> String {
        if v != 0 && (Swift.abs(v) >= 1e5 || Swift.abs(v) < 1e-2) {
            return String(format: "%.0e", v)
        }
        return v == v.rounded() ? String(Int(v)) : String(format: "%.2g", v)
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
