// Inverted dropout as one op. The keep mask is drawn from a random stream in the forward pass and
// drawn again from the stream's starting state in the backward pass, so neither a mask tensor nor
// the input stays alive between the passes: the gradient rule keeps 32 bytes of generator state.
// In a Transformer block of the ListOps `lra` model the masks and the values before them were 8 of
// the 25 block-sized tensors kept for backward (docs/results/memory.md).

extension Tensor {
    /// x ⊙ m/(1 − p): each element kept with probability 1 − `probability` (scaled by 1/(1 − p))
    /// or zeroed, its draw taken from `generator`, which advances. The gradient draws the same mask
    /// again from the state `generator` had on entry.
    public func droppedOut(probability: Float, generator: inout RandomGenerator) -> Tensor {
        precondition(
            probability >= 0 && probability < 1,
            "dropout probability must be in [0, 1), got \(probability)")
        let mask = DropoutMask(probability: probability)
        let start = generator
        var y = Tensor.unwritten(shape)
        mask.multiply(storage.base, into: y.mutableBase(), count: count, generator: &generator)
        return y.recorded(.dropout, from: [self]) { dy in
            var replay = start
            var dx = Tensor.unwritten(dy.shape)
            mask.multiply(
                dy.storage.base, into: dx.mutableBase(), count: dy.count, generator: &replay)
            return [dx]
        }
    }
}

/// The keep-or-drop draws of inverted dropout.
struct DropoutMask {
    /// An element survives when its 32-bit uniform is below keep·2³², so p is honoured to 2⁻³².
    let threshold: UInt64
    /// 1/(1 − p), the survivors' scale.
    let scale: Float

    init(probability: Float) {
        let keep = 1 - probability
        threshold = UInt64((Double(keep) * 4_294_967_296).rounded(.down))
        scale = 1 / keep
    }

    /// out[i] = x[i]·scale where element i survives, x[i]·0 elsewhere. Each 64-bit draw decides
    /// two elements (its high half the first), so the generator runs half as often.
    func multiply(
        _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int,
        generator: inout RandomGenerator
    ) {
        var i = 0
        while i + 1 < count {
            let bits = generator.next()
            out[i] = x[i] * (bits >> 32 < threshold ? scale : 0)
            out[i + 1] = x[i + 1] * (bits & 0xFFFF_FFFF < threshold ? scale : 0)
            i += 2
        }
        if i < count { out[i] = x[i] * (generator.next() >> 32 < threshold ? scale : 0) }
    }
}
