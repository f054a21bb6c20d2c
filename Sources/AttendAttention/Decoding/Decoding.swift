// Incremental decoding: a causal mixer runs the prompt once in parallel (prefill) and then one new
// position per sequence at a time (step), carrying what later positions need in a `DecodingState`
// instead of re-reading the context. Prompts of different lengths are right-padded: sequence i has
// `lengths[i]` real tokens, its padding is never read (causal rows before it cannot see it), and
// its next position is its own length, so each sequence decodes exactly as it would alone.
// A mechanism without a state refuses with `MixerError.decodingUnsupported`; nothing falls back to
// recomputing the context behind the caller's back.
import AttendCore
import AttendNN

/// What a mixer keeps between decoding steps (a key/value cache, running sums…), updated in place.
public protocol DecodingState: AnyObject {
    /// Memory the state holds, in bytes.
    var byteCount: Int { get }
}

extension TokenMixer {
    /// Refuses: this mixer keeps no decoding state.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: any DecodingState)
    {
        throw MixerError.decodingUnsupported(
            mechanism: "\(Self.self)", reason: "it has no incremental decoding state yet")
    }

    /// Refuses: this mixer keeps no decoding state.
    public func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
    {
        throw MixerError.decodingUnsupported(
            mechanism: "\(Self.self)", reason: "it has no incremental decoding state yet")
    }
}

/// An attention core that can decode inside `MultiHeadAttention`: it builds its state from the
/// prompt's per-head queries, keys and values and attends one new query per sequence.
public protocol DecodingAttentionCore: AttentionCore {
    /// The state after right-padded prompts: q [b, n, h, d], k [b, n, h, d], v [b, n, h, e], with
    /// `lengths[i]` real positions in sequence i. Called before the prompts' parallel forward, so
    /// the context still holds what earlier layers carried in.
    func decodingState(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> any DecodingState

    /// q, k, v [b, 1, h, ·] of each sequence's next position → its output [b, 1, h, e]; takes the
    /// new key and value into `state`.
    func step(
        query: Tensor, key: Tensor, value: Tensor, state: any DecodingState, context: MixerContext
    ) throws
        -> Tensor
}

extension MultiHeadAttention {
    /// The parallel causal forward of the prompts plus the core's state.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: any DecodingState)
    {
        let core = try decodingCore()
        let (b, n) = try checkedInput(x)
        try checkLengths(lengths, batch: b, length: n, mechanism: mechanism)
        let heads = [b, n, headCount, headDimension]
        let q = query(x).reshaped(heads)
        let k = key(x).reshaped(heads)
        let v = value(x).reshaped(heads)
        let state = try core.decodingState(
            query: q, key: k, value: v, lengths: lengths, context: context)
        let mixed = try core.attend(query: q, key: k, value: v, context: context)
        return (output(mixed.reshaped([b, n, headCount * headDimension])), state)
    }

    /// One position per sequence through the projections and the core's state.
    public func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
    {
        let core = try decodingCore()
        let (b, n) = try checkedInput(x)
        guard n == 1 else {
            throw MixerError.shapeMismatch(
                mechanism: mechanism, expected: "[batch, 1, width] per step", got: x.shape)
        }
        let heads = [b, 1, headCount, headDimension]
        let q = query(x).reshaped(heads)
        let k = key(x).reshaped(heads)
        let v = value(x).reshaped(heads)
        let mixed = try core.step(query: q, key: k, value: v, state: state, context: context)
        return output(mixed.reshaped([b, 1, headCount * headDimension]))
    }

    /// The core as a decoding core, or the refusal naming this mechanism.
    func decodingCore() throws -> any DecodingAttentionCore {
        guard let core = core as? any DecodingAttentionCore else {
            throw MixerError.decodingUnsupported(
                mechanism: mechanism, reason: "its attention core keeps no decoding state yet")
        }
        return core
    }
}

/// Checks that right-padded prompt lengths fit the batch: one per sequence, each in 1...n.
public func checkLengths(_ lengths: [Int], batch b: Int, length n: Int, mechanism: String) throws {
    guard lengths.count == b, lengths.allSatisfy({ (1...Swift.max(n, 1)).contains($0) }) else {
        throw MixerError.invalidConfiguration(
            mechanism: mechanism,
            problem:
                "prefill needs one prompt length in 1...\(n) per sequence (\(b)), got \(lengths)")
    }
}

/// A state whose type is not the one the mixer makes (a caller mixed up layers' states).
func foreignState(_ mechanism: String, _ state: any DecodingState) -> MixerError {
    .invalidConfiguration(
        mechanism: mechanism, problem: "got another mechanism's decoding state (\(type(of: state)))"
    )
}
