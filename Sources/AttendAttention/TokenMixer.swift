// The one interface every mechanism implements. A token mixer maps hidden states [b, n, c] to
// [b, n, c], reading the padding mask, the causal flag and anything cross-layer (relative positions,
// the previous layer's attention map, auxiliary losses) from a per-forward `MixerContext`, so model
// code never special-cases a mechanism.
import AttendCore
import AttendNN

/// A sequence-mixing layer: self-attention or anything that replaces it.
public protocol TokenMixer: Module {
    /// [b, n, c] → [b, n, c]. Throws `MixerError` when the request cannot be honoured (never a
    /// silent fallback).
    func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor

    /// Incremental decoding, part 1: the causal forward of right-padded prompts x [b, n, c], whose
    /// sequence i holds `lengths[i]` real tokens, returning that forward's output and the state
    /// `step` continues from. Mixers without a decoding state throw
    /// `MixerError.decodingUnsupported`.
    func prefill(_ x: Tensor, lengths: [Int], context: MixerContext) throws
        -> (output: Tensor, state: any DecodingState)

    /// Incremental decoding, part 2: x [b, 1, c] holds each sequence's next position (sequence i's
    /// position is its length so far); returns the causal output at that position, [b, 1, c], and
    /// updates `state` in place.
    func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
}

/// Parameters a mechanism keeps once per model instead of once per layer (DeBERTa-v2's relative-position
/// table, which every layer reads).
///
/// The registry entry builds it (`Mechanism.makeShared`); a model that hosts the mechanism builds it
/// once, lists it among its children and calls `prepare` before the first layer runs. `prepare` leaves
/// what the layers need in `context.carried`, so the layers and the model code stay generic.
public protocol LayerSharedState: Module {
    /// Computes what the layers read (still connected to the parameters for gradients) and stores it
    /// in `context.carried`.
    func prepare(_ context: MixerContext) throws
}

/// Per-forward state shared by every layer of one model call.
///
/// Created by the model for each forward pass; mechanisms read the masks and may leave values for
/// later layers (evolving attention's map) or for the trainer (auxiliary losses).
public final class MixerContext {
    /// [b, n], 1 for real tokens and 0 for padding; nil when nothing is padded.
    public let paddingMask: Tensor?
    /// Whether position t may only see positions ≤ t.
    public let isCausal: Bool
    /// Index of the layer being run (set by the model before each layer).
    public var layerIndex = 0
    /// Optimizer steps taken so far (schedules such as Performer's feature redraw read it).
    public var trainingStep = 0
    /// Values a layer leaves for the next one, by key (e.g. "evolving.logits").
    public var carried: [String: Tensor] = [:]
    /// Extra loss terms (router balance, z-loss…) that the trainer adds to the objective.
    public private(set) var auxiliaryLosses: [(name: String, value: Tensor)] = []

    /// A context for one forward pass.
    public init(paddingMask: Tensor? = nil, isCausal: Bool = false) {
        self.paddingMask = paddingMask
        self.isCausal = isCausal
    }

    /// Records an auxiliary loss (already weighted by its coefficient).
    public func addAuxiliaryLoss(_ name: String, _ value: Tensor) {
        auxiliaryLosses.append((name, value))
    }

    /// The padding mask per key as a `[b, n]` float tensor of ones when there is none.
    public func keyMask(batch: Int, length: Int) -> Tensor {
        paddingMask ?? Tensor.ones([batch, length])
    }
}

/// Why a mechanism refused a request.
public enum MixerError: Error, CustomStringConvertible, Equatable {
    /// The mechanism has no causal form (e.g. Linformer mixes future positions into every key).
    case causalUnsupported(mechanism: String, reason: String)
    /// Input longer than the mechanism was built for.
    case sequenceTooLong(mechanism: String, length: Int, maximum: Int)
    /// Model width not divisible into heads, or another configuration conflict.
    case invalidConfiguration(mechanism: String, problem: String)
    /// Input shape not [b, n, c] with the configured c.
    case shapeMismatch(mechanism: String, expected: String, got: [Int])
    /// The mechanism would need more memory than allowed (materialised maps).
    case memoryBudgetExceeded(mechanism: String, needed: Int, budget: Int)
    /// No mechanism of that name.
    case unknownMechanism(String, known: [String])
    /// A value the mechanism reads from `MixerContext.carried` was not there (its model did not
    /// build the mechanism's shared state).
    case missingCarriedValue(mechanism: String, key: String)
    /// The mechanism keeps no state for incremental decoding (prefill + step).
    case decodingUnsupported(mechanism: String, reason: String)

    /// One line: the mechanism, the problem and what to do about it.
    public var description: String {
        switch self {
        case .causalUnsupported(let m, let reason):
            return
                "\(m) cannot run causally: \(reason). Pick a mechanism that supports causal masking (`attend list`)."
        case .sequenceTooLong(let m, let n, let maximum):
            return
                "\(m) was configured for sequences up to \(maximum) tokens but got \(n); raise --seq-len / maximum length."
        case .invalidConfiguration(let m, let problem):
            return "\(m): \(problem)"
        case .shapeMismatch(let m, let expected, let got):
            return "\(m): expected input \(expected), got \(got)"
        case .memoryBudgetExceeded(let m, let needed, let budget):
            let mebibytes = { (bytes: Int) in (bytes + (1 << 20) - 1) >> 20 }
            return
                "\(m) needs about \(mebibytes(needed)) MiB for its attention maps, over its memory_budget of "
                + "\(mebibytes(budget)) MiB; shorten the input or raise the budget (bytes), e.g. "
                + "--mixer-options '{\"\(m)\": {\"memory_budget\": \(needed)}}'"
        case .unknownMechanism(let name, let known):
            return "unknown mechanism '\(name)'; choose one of: \(known.joined(separator: ", "))"
        case .decodingUnsupported(let m, let reason):
            return "\(m) cannot decode incrementally: \(reason). Generate with --no-cache "
                + "(recomputes the context for every token) or pick a mechanism that decodes "
                + "(docs/decoding.md)."
        case .missingCarriedValue(let m, let key):
            return
                "\(m) reads '\(key)' from the context, which nothing provided: build the mixer with Mechanisms.make (standalone) or inside a SequenceEncoder, which prepare the mechanism's shared state"
        }
    }
}
