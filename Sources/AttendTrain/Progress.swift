// Progress reporting: a redrawn one-line bar on a terminal (step, loss, accuracy, tokens/s, ETA),
// plain periodic lines when the output is a file or pipe (CI logs stay readable).
import Foundation

/// Reports training progress to standard error.
public final class ProgressReporter {
    private let total: Int
    private let interval: Int
    private let isTerminal: Bool
    private let start = ContinuousClock.now
    private var startStep: Int
    private let label: String
    private let isSilent: Bool

    /// A reporter for `total` steps starting at `startStep`; plain lines every `interval` steps when
    /// standard error is not a terminal. `isSilent` keeps the time but prints nothing (the processes
    /// of a distributed run other than rank 0).
    public init(
        label: String, total: Int, startStep: Int = 0, interval: Int, isSilent: Bool = false
    ) {
        self.label = label
        self.total = total
        self.startStep = startStep
        self.interval = Swift.max(interval, 1)
        self.isSilent = isSilent
        isTerminal = isatty(STDERR_FILENO) == 1
    }

    /// Seconds since the reporter was made.
    public var elapsed: Double {
        (ContinuousClock.now - start) / .seconds(1)
    }

    /// Shows step `step` (1-based count of completed steps) with the latest metrics.
    public func update(step: Int, loss: Float, accuracy: Float, tokensPerSecond: Double) {
        let done = step - startStep
        let remaining = done > 0 ? elapsed / Double(done) * Double(total - step) : 0
        let text = String(
            format: "%@ step %d/%d  loss %.4f  acc %.3f  %.0f tok/s  ETA %@", label, step, total,
            loss, accuracy,
            tokensPerSecond, ProgressReporter.duration(remaining))
        if isTerminal {
            let width = 24
            let filled = total > 0 ? Swift.min(width, width * step / total) : width
            let bar =
                String(repeating: "█", count: filled)
                + String(repeating: "·", count: width - filled)
            write("\r\(bar) \(text)\u{1B}[K")
            if step == total { write("\n") }
        } else if step % interval == 0 || step == total || step == startStep + 1 {
            write(text + "\n")
        }
    }

    /// A message on its own line (evaluation results, checkpoints).
    public func note(_ message: String) {
        write((isTerminal ? "\r\u{1B}[K" : "") + message + "\n")
    }

    private func write(_ text: String) {
        if !isSilent { FileHandle.standardError.write(Data(text.utf8)) }
    }

    /// "1h02m", "3m10s", "12s".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
