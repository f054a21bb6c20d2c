// What a user's data set holds, printed when a run starts: examples per split, records skipped as
// malformed, label counts, the distribution of lengths in tokens, and how many examples the
// model's longest input will cut.
import AttendCore

/// Counts and length statistics of a data set built from files.
public struct DataSummary: Sendable, Equatable {
    /// Examples per split.
    public var counts: [Split: Int] = [:]
    /// Malformed records skipped (with `--skip-bad-lines`), per file.
    public var skipped: [String: Int] = [:]
    /// Training examples per class, in label-id order (empty for language modelling).
    public var labelCounts: [(name: String, count: Int)] = []
    /// Length in tokens of every training example (first sequence), in file order.
    public var lengths: [Int] = []
    /// What one length counts ("tokens", "samples").
    public var unit = "tokens"
    /// Further lines for the report (language modelling: how much text each split holds).
    public var notes: [String] = []

    /// Length statistics, or nil without examples: minimum, median, 90th percentile, maximum.
    public var lengthQuantiles: (min: Int, median: Int, p90: Int, max: Int)? {
        guard !lengths.isEmpty else { return nil }
        let sorted = lengths.sorted()
        func quantile(_ q: Double) -> Int {
            sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
        return (sorted.first!, quantile(0.5), quantile(0.9), sorted.last!)
    }

    /// Training examples longer than `limit` tokens (cut to it by the model's longest input).
    public func truncated(at limit: Int) -> Int { lengths.lazy.filter { $0 > limit }.count }

    /// Lines for the terminal, given the model's longest input.
    public func report(maximumLength: Int) -> [String] {
        let splits = Split.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(
            separator: ", ")
        var lines = ["data: \(splits) examples"]
        for (file, count) in skipped.sorted(by: { $0.key < $1.key }) where count > 0 {
            lines.append("skipped \(count) malformed record\(count == 1 ? "" : "s") in \(file)")
        }
        if !labelCounts.isEmpty {
            lines.append(
                "labels: " + labelCounts.map { "\($0.name) \($0.count)" }.joined(separator: ", "))
        }
        if let q = lengthQuantiles {
            let cut = truncated(at: maximumLength)
            lines.append(
                "length in \(unit): min \(q.min), median \(q.median), 90% \(q.p90), max \(q.max); "
                    + "\(cut) of \(lengths.count) training examples cut to "
                    + "--seq-len \(maximumLength)"
            )
        }
        return lines + notes
    }

    /// Equal when every count, length, note and label (in order) is equal.
    public static func == (a: DataSummary, b: DataSummary) -> Bool {
        a.counts == b.counts && a.skipped == b.skipped && a.lengths == b.lengths && a.unit == b.unit
            && a.notes == b.notes
            && a.labelCounts.map { $0.name } == b.labelCounts.map { $0.name }
            && a.labelCounts.map { $0.count } == b.labelCounts.map { $0.count }
    }
}

/// A task built from a user's files, which can say what it read.
public protocol UserDataTask: SequenceTask {
    /// The configuration it was built from, with the label map filled in.
    var resolvedConfiguration: UserDataConfiguration { get }
    /// What it read.
    var summary: DataSummary { get }
}

/// The shuffled split of `count` records into training and validation members: a permutation
/// drawn from `seed`, whose last fraction·count, rounded (at least one, leaving one for training
/// when there are two or more records and the fraction is positive), are validation.
func fractionSplit(count: Int, fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int])
{
    var generator = RandomGenerator(seed: RandomGenerator.mix(seed, 0x5641_4C49_44))  // "VALID"
    let order = generator.permutation(count)
    var held = Int((fraction * Double(count)).rounded())
    if fraction > 0 && count >= 2 { held = min(max(held, 1), count - 1) }
    held = min(held, count)
    return (order[..<(count - held)].sorted(), order[(count - held)...].sorted())
}
