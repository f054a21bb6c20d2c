// The one interface every task offers the trainer: what the examples look like (vocabulary, classes,
// length, kind) and random access to each split's examples. Batching, shuffling and padding are
// built on top of it once (Batching/), so the trainer and `attend lra` drive every task alike.
// The name avoids `Task`, which Swift's concurrency library already uses.

/// Which part of a task's data.
public enum Split: String, CaseIterable, Codable, Sendable {
    /// Examples for fitting parameters.
    case train
    /// Examples for choosing hyper-parameters and early stopping.
    case validation
    /// Held-out examples for the reported number.
    case test
}

/// What a task asks a model to predict.
public enum TaskKind: String, Codable, Sendable {
    /// One sequence in, one of `classCount` labels out (ListOps, Pathfinder, Text, Image).
    case classification
    /// Two sequences in (one per tower), one label out (Retrieval).
    case pairClassification
    /// A sequence in, the next token at every position out, attending only to the past.
    case languageModel
    /// A sequence with some tokens hidden in, the hidden tokens out (self-pretraining): every
    /// position sees the whole sequence; `targets` are ignored (-100) where nothing was hidden.
    case maskedTokens
}

/// One example: token ids and what to predict from them.
public struct Example: Sendable, Equatable {
    /// Token ids of the (first) sequence, each in `0..<vocabularySize`.
    public var tokens: [Int]
    /// The second sequence of a pair task; nil otherwise.
    public var pairTokens: [Int]?
    /// The class of a classification or pair task; 0 for language modelling.
    public var label: Int
    /// The target at every position of a language-modelling example (the next token) or a
    /// masked-token example (the hidden token, -100 where nothing is hidden); nil otherwise.
    public var targets: [Int]?

    /// A classification example.
    public init(tokens: [Int], label: Int) {
        self.tokens = tokens
        self.label = label
    }

    /// A pair-classification example.
    public init(tokens: [Int], pairTokens: [Int], label: Int) {
        self.tokens = tokens
        self.pairTokens = pairTokens
        self.label = label
    }

    /// A language-modelling example: `targets[t]` is the token that follows `tokens[t]`.
    public init(tokens: [Int], targets: [Int]) {
        precondition(tokens.count == targets.count, "one target per input token")
        self.tokens = tokens
        self.targets = targets
        self.label = 0
    }
}

/// A task: deterministic examples in three disjoint splits, addressable by index.
///
/// Conforming types do their expensive work (generating, reading, decompressing) in their
/// initialiser, which throws `DataError`; `example(_:in:)` then never fails. Everything a task
/// produces is a function of its configuration and seed.
public protocol SequenceTask: Sendable {
    /// Stable lower-case id used by the CLI and result tables (`listops`, `pathfinder32`, …).
    var name: String { get }
    /// What the model predicts.
    var kind: TaskKind { get }
    /// Rows of the token embedding: every token id is below this.
    var vocabularySize: Int { get }
    /// Output classes (for language modelling: the target vocabulary, equal to `vocabularySize`).
    var classCount: Int { get }
    /// The longest sequence the task produces (for pair tasks: per sequence).
    var maxLength: Int { get }
    /// The seed everything random in the task derives from (generation and shuffling).
    var seed: UInt64 { get }
    /// A name per class, in label order, for reports (for language modelling: empty).
    var classNames: [String] { get }
    /// Number of examples in `split` (one epoch).
    func count(of split: Split) -> Int
    /// Example `index` (in `0..<count(of: split)`) of `split`; the same value on every call.
    func example(_ index: Int, in split: Split) -> Example
}

extension SequenceTask {
    /// Class labels as numbers, unless a task names them.
    public var classNames: [String] { isPerPosition ? [] : (0..<classCount).map(String.init) }

    /// The id padding uses. Tasks with padding never produce it as a real token; tasks whose
    /// sequences all have the same length (images, byte windows) may, since masks come from lengths.
    public var padID: Int { 0 }
    /// True for language modelling: attention must be causal.
    public var isCausal: Bool { kind == .languageModel }
    /// True when each example holds two sequences (two-tower models).
    public var isPair: Bool { kind == .pairClassification }
    /// True when targets are per position (language modelling, masked tokens), not per example.
    public var isPerPosition: Bool { kind == .languageModel || kind == .maskedTokens }
}
