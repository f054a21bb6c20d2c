// LayerNorm and RMSNorm over the last axis as single fused ops (kernel in
// Kernels/NormalizationKernel.swift): one pass each way instead of the seven of the composite form.

extension Tensor {
    /// (x − mean)/√(var + ε)·γ + β over the last axis (PyTorch `layer_norm`, biased variance).
    /// `gamma` and `beta` have the last axis's extent; nil means 1 and 0.
    public func layerNormalized(gamma: Tensor?, beta: Tensor?, epsilon: Float) -> Tensor {
        let cols = shape.last ?? 1
        let rows = count / Swift.max(cols, 1)
        for p in [gamma, beta].compactMap({ $0 }) {
            precondition(
                p.shape == [cols], "layerNormalized: parameter \(p.shape) for last axis \(cols)")
        }
        var mean = [Float](repeating: 0, count: rows)
        var rstd = [Float](repeating: 0, count: rows)
        let y = Tensor.filled(shape: shape) { out in
            NormalizationKernel.layerNormForward(
                storage.base, gamma: gamma?.storage.base, beta: beta?.storage.base,
                into: out.baseAddress!, mean: &mean, reciprocalStandardDeviation: &rstd,
                rows: rows, cols: cols, epsilon: epsilon)
        }
        let inputs = [self] + [gamma, beta].compactMap { $0 }
        return y.recorded(.layerNorm, from: inputs) { dy, needs in
            var dx: Tensor? = needs[0] ? Tensor.unwritten(self.shape) : nil
            var dGamma: Tensor? = gamma != nil && needs[1] ? Tensor.unwritten([cols]) : nil
            var dBeta: Tensor? =
                beta != nil && needs[inputs.count - 1] ? Tensor.unwritten([cols]) : nil
            NormalizationKernel.layerNormBackward(
                self.storage.base, gamma: gamma?.storage.base, outputGradient: dy.storage.base,
                mean: mean, reciprocalStandardDeviation: rstd,
                inputGradient: dx?.mutableBase(), dGamma: dGamma?.mutableBase(),
                dBeta: dBeta?.mutableBase(), rows: rows, cols: cols)
            var grads: [Tensor?] = [dx]
            if gamma != nil { grads.append(dGamma) }
            if beta != nil { grads.append(dBeta) }
            return grads
        }
    }

    /// x/√(mean(x²) + ε)·γ over the last axis (T5 LayerNorm / RMSNorm: no centring, no bias).
    public func rmsNormalized(gamma: Tensor?, epsilon: Float) -> Tensor {
        let cols = shape.last ?? 1
        let rows = count / Swift.max(cols, 1)
        if let gamma {
            precondition(
                gamma.shape == [cols],
                "rmsNormalized: parameter \(gamma.shape) for last axis \(cols)")
        }
        var rstd = [Float](repeating: 0, count: rows)
        let y = Tensor.filled(shape: shape) { out in
            NormalizationKernel.rmsNormForward(
                storage.base, gamma: gamma?.storage.base, into: out.baseAddress!,
                reciprocalRootMeanSquare: &rstd, rows: rows, cols: cols, epsilon: epsilon)
        }
        let inputs = [self] + [gamma].compactMap { $0 }
        return y.recorded(.rmsNorm, from: inputs) { dy, needs in
            var dx: Tensor? = needs[0] ? Tensor.unwritten(self.shape) : nil
            var dGamma: Tensor? = gamma != nil && needs[1] ? Tensor.unwritten([cols]) : nil
            NormalizationKernel.rmsNormBackward(
                self.storage.base, gamma: gamma?.storage.base, outputGradient: dy.storage.base,
                reciprocalRootMeanSquare: rstd, inputGradient: dx?.mutableBase(),
                dGamma: dGamma?.mutableBase(), rows: rows, cols: cols)
            return gamma == nil ? [dx] : [dx, dGamma]
        }
    }
}

extension Tensor {
    /// A tensor whose values the caller's kernel writes in full before anything reads them (the
    /// backward kernels overwrite every gradient, so zero-filling first would be a wasted pass).
    static func unwritten(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: TensorStorage(uninitializedCount: Shape.count(shape)))
    }

    /// The base address for writing into a tensor this code just created (unique storage, no graph).
    mutating func mutableBase() -> UnsafeMutablePointer<Float> {
        withUnsafeMutableBufferPointer { $0.baseAddress! }
    }
}
