// The multi-head frame shared by every q/k/v mechanism: project hidden states to per-head queries,
// keys and values, let the mechanism mix them, merge the heads and project back. Heads stay in the
// [b, n, h, d] layout the projections produce (a reshape, no copy); the fused kernels read it
// directly through strides.
import AttendCore
import AttendNN

/// The mechanism proper: how queries attend to keys, given per-head q, k, v.
public protocol AttentionCore: Module {
    /// q [b, n, h, d], k [b, m, h, d], v [b, m, h, e] → [b, n, h, e].
    func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws -> Tensor
}

/// q/k/v projections, a mechanism, and the output projection.
///
/// Checkpoint names: `query`, `key`, `value`, `output` (each a Linear), then the core's own
/// parameters at the same level.
public final class MultiHeadAttention: TokenMixer {
    /// The registry name of the mechanism (for error messages).
    public let mechanism: String
    /// The input projections, c → c each, split into heads, and the output projection of the
    /// merged heads, c → c.
    public let query: Linear, key: Linear, value: Linear, output: Linear
    /// The attention mechanism applied to the heads.
    public let core: any AttentionCore
    /// h and d.
    public let headCount: Int, headDimension: Int

    /// Projections sized by `configuration` around `core`. Weights default to PyTorch's Linear
    /// initialisation unless `initializer` is given.
    public init(
        mechanism: String, configuration: MixerConfiguration, core: any AttentionCore,
        initializer: Initializer? = nil, generator: inout RandomGenerator
    ) throws {
        let (h, d) = try configuration.validatedHeads(for: mechanism)
        let c = configuration.modelDimension
        let bias = configuration.projectionBias
        func projection(_ generator: inout RandomGenerator) -> Linear {
            Linear(
                inputCount: c, outputCount: c, bias: bias, weightInitializer: initializer,
                biasInitializer: initializer.map { _ in .zeros }, generator: &generator)
        }
        self.mechanism = mechanism
        query = projection(&generator)
        key = projection(&generator)
        value = projection(&generator)
        output = projection(&generator)
        self.core = core
        headCount = h
        headDimension = d
    }

    /// The core's own parameters, kept at this level beside the projections.
    public var ownParameters: [(String, Parameter)] { core.ownParameters }
    /// `query`, `key`, `value`, `output`, then the core's children.
    public var children: [(String, any Module)] {
        [("query", query), ("key", key), ("value", value), ("output", output)] + core.children
    }
    /// The core is not a child (its parameters sit at this level), so it hears the mode from here.
    public func setOwnTrainingMode(_ training: Bool) { core.setOwnTrainingMode(training) }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        let (b, n) = try checkedInput(x)
        let heads = [b, n, headCount, headDimension]
        let q = query(x).reshaped(heads)  // [b, n, h, d]
        let k = key(x).reshaped(heads)  // [b, n, h, d]
        let v = value(x).reshaped(heads)  // [b, n, h, d]
        let mixed = try core.attend(query: q, key: k, value: v, context: context)  // [b, n, h, d]
        return output(mixed.reshaped([b, n, headCount * headDimension]))
    }

    /// Validates [b, n, c] and returns (b, n).
    func checkedInput(_ x: Tensor) throws -> (Int, Int) {
        let c = headCount * headDimension
        guard x.rank == 3, x.shape[2] == c else {
            throw MixerError.shapeMismatch(
                mechanism: mechanism, expected: "[batch, length, \(c)]", got: x.shape)
        }
        return (x.shape[0], x.shape[1])
    }
}
