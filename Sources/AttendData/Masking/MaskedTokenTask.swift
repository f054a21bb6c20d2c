// Self-pretraining data: any task's inputs with some tokens replaced by a mask token, the hidden
// tokens as per-position targets (labels unused). A pair task contributes both of its sequences as
// separate examples. Positions are hidden in units (single tokens, spans of `span` tokens, or
// `patch`×`patch` squares of an image), each unit independently with probability `rate`, so the
// expected hidden fraction is the rate; unit boundaries start at a random offset per example, so
// spans and patches are not tied to a fixed grid. Only real positions (below the example's
// length) are ever hidden: padding never is. The masking of an example is a function of (task
// seed, split, index): the same each epoch, as in BERT's original pre-processing.
import AttendCore

/// A task's inputs as a masked-token (denoising) task.
public struct MaskedTokenTask: SequenceTask {
    /// The task whose inputs are masked.
    public let base: any SequenceTask
    /// Which positions are hidden.
    public let masking: MaskingOptions
    /// Side of the square image each input is, for patch masking; nil otherwise.
    public let imageSide: Int?

    /// Wraps `base`; throws `DataError.invalidConfiguration` for a language-modelling task (it
    /// already predicts its own tokens), invalid options, or patches on inputs that are not square.
    public init(base: any SequenceTask, masking: MaskingOptions) throws {
        if let problem = masking.problem {
            throw DataError.invalidConfiguration(task: base.name, reason: problem)
        }
        guard !base.isPerPosition else {
            throw DataError.invalidConfiguration(
                task: base.name,
                reason: "masked-token pretraining needs a classification task; "
                    + "\(base.name) predicts its own tokens already (train it directly)")
        }
        self.base = base
        self.masking = masking
        if masking.patch > 0 {
            let n = base.maxLength
            let side = Int(Double(n).squareRoot().rounded())
            guard side * side == n else {
                throw DataError.invalidConfiguration(
                    task: base.name,
                    reason: "--mask-patch needs square images, but inputs have \(n) positions "
                        + "(not a square); use --mask-span instead")
            }
            guard masking.patch <= side else {
                throw DataError.invalidConfiguration(
                    task: base.name,
                    reason: "a mask patch of side \(masking.patch) is larger than the "
                        + "\(side)×\(side) image")
            }
            imageSide = side
        } else {
            imageSide = nil
        }
    }

    /// The base task's name: the run directory and reports name the data, not the objective.
    public var name: String { base.name }
    /// Always `.maskedTokens`: a prediction at every hidden position.
    public var kind: TaskKind { .maskedTokens }
    /// The base vocabulary plus one row: the mask token.
    public var vocabularySize: Int { base.vocabularySize + 1 }
    /// The hidden token is one of the base task's tokens.
    public var classCount: Int { base.vocabularySize }
    /// The base task's length: masking replaces tokens and adds none.
    public var maxLength: Int { base.maxLength }
    /// The base task's seed; the masks derive their own stream from it.
    public var seed: UInt64 { base.seed }
    /// The id that replaces hidden tokens: the row after the base vocabulary.
    public var maskID: Int { base.vocabularySize }
    /// The base task's padding id.
    public var padID: Int { base.padID }

    /// Both sequences of a pair task count as examples.
    public func count(of split: Split) -> Int { base.count(of: split) * (base.isPair ? 2 : 1) }

    /// Example `index` of `split` with its hidden positions replaced by `maskID`; the targets
    /// hold the original tokens there and -100 (ignored) elsewhere. The same on every call.
    public func example(_ index: Int, in split: Split) -> Example {
        let source = base.example(base.isPair ? index / 2 : index, in: split)
        let tokens = base.isPair && index % 2 == 1 ? source.pairTokens ?? [] : source.tokens
        let splitNumber = UInt64(Split.allCases.firstIndex(of: split)!)
        let stream = RandomGenerator.mix(splitNumber, UInt64(index))
        let maskSeed = RandomGenerator.mix(seed, 0x4D41_534B)  // "MASK"
        var generator = RandomGenerator(seed: maskSeed, stream: stream)
        let hidden = hiddenPositions(length: tokens.count, generator: &generator)
        var input = tokens
        var targets = [Int](repeating: -100, count: tokens.count)
        for t in tokens.indices where hidden[t] {
            input[t] = maskID
            targets[t] = tokens[t]
        }
        return Example(tokens: input, targets: targets)
    }

    /// Which of `length` real positions to hide: whole units, each with probability `rate`, at
    /// least one unit when `length` > 0 (an example with nothing hidden would teach nothing).
    public func hiddenPositions(length: Int, generator: inout RandomGenerator) -> [Bool] {
        guard length > 0 else { return [] }
        let units = unitOfPositions(length: length, generator: &generator)
        let unitCount = (units.max() ?? 0) + 1
        var chosen = (0..<unitCount).map { _ in generator.nextUniformDouble() < masking.rate }
        if !chosen.contains(true) { chosen[units[generator.nextInt(below: length)]] = true }
        return units.map { chosen[$0] }
    }

    /// The unit (span or patch) each position belongs to, numbered from 0.
    func unitOfPositions(length: Int, generator: inout RandomGenerator) -> [Int] {
        if let side = imageSide {
            let k = masking.patch
            let rowOffset = generator.nextInt(below: k)
            let columnOffset = generator.nextInt(below: k)
            let perRow = (side + columnOffset + k - 1) / k
            return (0..<length).map { p in
                ((p / side + rowOffset) / k) * perRow + (p % side + columnOffset) / k
            }
        }
        let offset = generator.nextInt(below: masking.span)  // the first span is 1…span long
        return (0..<length).map { ($0 + offset) / masking.span }
    }
}
