// What task configurations have in common, written once: one seed behind every draw (and the
// `seeded` copy the catalogue makes), the three split sizes of tasks whose configuration fixes them
// (ListOps, Text, Retrieval, Pathfinder), and the passage bounds and sources of the two byte-passage
// tasks (Text, Retrieval). Each configuration keeps its own stored properties and JSON keys; these
// protocols only add the behaviour that was repeated in each.
import AttendCore

/// A task configuration whose every random draw derives from `seed`.
public protocol SeededConfiguration: Sendable {
    /// Seed of every draw.
    var seed: UInt64 { get set }
}

extension SeededConfiguration {
    /// A copy with another seed.
    public func seeded(_ seed: UInt64) -> Self {
        var copy = self
        copy.seed = seed
        return copy
    }

    /// The generator of example `index` of `split`: stream `index` of (seed, task, split), so every
    /// example can be drawn alone and in any order.
    func generator(task: UInt64, split: Split, index: Int) -> RandomGenerator {
        RandomGenerator(
            seed: RandomGenerator.mix(seed, splitTag(split, task: task)), stream: UInt64(index))
    }
}

/// A task configuration that fixes how many examples each split holds.
public protocol SplitSizedConfiguration: SeededConfiguration {
    /// Training examples per epoch.
    var trainCount: Int { get set }
    /// Validation examples.
    var validationCount: Int { get set }
    /// Test examples.
    var testCount: Int { get set }
}

extension SplitSizedConfiguration {
    /// Examples in `split`.
    public func count(of split: Split) -> Int {
        switch split {
        case .train: trainCount
        case .validation: validationCount
        case .test: testCount
        }
    }

    /// A copy with other split sizes.
    public func counts(train: Int, validation: Int, test: Int) -> Self {
        var copy = self
        (copy.trainCount, copy.validationCount, copy.testCount) = (train, validation, test)
        return copy
    }

    /// Why the split sizes are unusable (one is negative), or nil.
    var splitSizeProblem: String? {
        trainCount >= 0 && validationCount >= 0 && testCount >= 0
            ? nil : "split sizes must be non-negative"
    }
}

/// The configuration of a task over byte passages of the text corpus (Text, Retrieval).
protocol PassageConfiguration: SplitSizedConfiguration {
    /// The sources passages are drawn from.
    var sources: [TextSource] { get }
    /// Shortest passage, in bytes.
    var minBytes: Int { get }
    /// Longest passage, in bytes.
    var maxBytes: Int { get }
}

extension PassageConfiguration {
    /// Why the passage bounds or the sources are unusable, or nil.
    var passageProblem: String? {
        guard minBytes >= 1, maxBytes >= minBytes else {
            return "need 1 ≤ min_bytes ≤ max_bytes, got \(minBytes), \(maxBytes)"
        }
        guard sources.count >= 2, Set(sources).count == sources.count else {
            return "need at least two distinct sources"
        }
        return nil
    }

    /// A passage length drawn uniformly from minBytes…maxBytes.
    func passageLength(using random: inout RandomGenerator) -> Int {
        minBytes + random.nextInt(below: maxBytes - minBytes + 1)
    }
}

/// A 64-bit tag for (task, split), mixed into seeds so that every split of every task draws from
/// its own streams.
func splitTag(_ split: Split, task: UInt64) -> UInt64 {
    let splitCode: UInt64 =
        switch split {
        case .train: 1
        case .validation: 2
        case .test: 3
        }
    return RandomGenerator.mix(task, splitCode)
}
