// The gradient examples of Treeformer's TF and TC kernel ops. Routing is piecewise constant, so
// finite differences only hold where no step can flip a decision: queries and keys are redrawn
// until every split they meet is at least a margin away, and TC's splits are scaled so |z| > 1,
// where its straight-through surrogate vanishes and the kernel's gradient is the true one.
import AttendCore

extension TreeFineAttentionOp {
    /// A tree of height 1 over 8 positions, inputs 0.05 away from the splits.
    static var gradientExamples: [KernelOpExample] {
        let core = TreeformerAttention.example(options: .init(), seed: 5)
        var x = TreeformerAttention.exampleInputs(seed: 20)
        x[0] = core.movedAwayFromSplits(x[0], margin: 0.05, seed: 21)
        x[1] = core.movedAwayFromSplits(x[1], margin: 0.05, seed: 22)
        return [KernelOpExample("height 1", x) { try core.exampleAttention($0) }]
    }
}

extension TreeCoarseAttentionOp {
    /// A tree of height 1 over 8 positions in its TC phase, splits scaled by 40 and inputs 1.5
    /// away from them.
    static var gradientExamples: [KernelOpExample] {
        var options = TreeformerAttention.Options()
        options.schedule = .init(fullAttentionSteps: 0, coarseSteps: 1_000)
        let core = TreeformerAttention.example(options: options, seed: 11)
        core.treeWeight.value = core.treeWeight.value * 40
        var x = TreeformerAttention.exampleInputs(seed: 50)
        x[0] = core.movedAwayFromSplits(x[0], margin: 1.5, seed: 51)
        x[1] = core.movedAwayFromSplits(x[1], margin: 1.5, seed: 52)
        return [KernelOpExample("height 1", x) { try core.exampleAttention($0) }]
    }
}

extension TreeformerAttention {
    /// A core of height 1 over 2 heads of width 4 whose splits are drawn, not fitted to data.
    fileprivate static func example(options: Options, seed: UInt64) -> TreeformerAttention {
        var options = options
        options.dataInitialization = false
        var generator = RandomGenerator(seed: seed)
        do {
            return try TreeformerAttention(
                headCount: 2, headDimension: 4, height: 1, options: options, seed: seed,
                generator: &generator)
        } catch {
            preconditionFailure("Treeformer's gradient example: \(error)")
        }
    }

    /// q, k, v [1, 8, 2, 4] from seeds `seed`, `seed` + 1, `seed` + 2.
    fileprivate static func exampleInputs(seed: UInt64) -> [Tensor] {
        (0..<3).map { Tensor.randomNormal([1, 8, 2, 4], seed: seed + UInt64($0)) }
    }

    /// The core at step 0, bidirectional, unpadded.
    fileprivate func exampleAttention(_ x: [Tensor]) throws -> Tensor {
        let context = MixerContext(paddingMask: nil, isCausal: false)
        context.trainingStep = 0
        return try attend(query: x[0], key: x[1], value: x[2], context: context)
    }

    /// `x` [b, n, h, d] with every head vector redrawn until each of its split values has
    /// |z| ≥ `margin` (routed in Double), so a finite-difference step cannot flip a routing
    /// decision.
    func movedAwayFromSplits(_ x: Tensor, margin: Double, seed: UInt64) -> Tensor {
        let (b, n, h, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (w, bias) = (treeWeight.value.scalars, treeBias.value.scalars)
        let splits = TreeRouting.internalNodes(height: height)
        var values = x.scalars
        var generator = RandomGenerator(seed: seed)
        for batch in 0..<b {
            for i in 0..<n {
                for head in 0..<h {
                    let row = ((batch * n + i) * h + head) * d
                    while true {
                        var (u, smallest) = (0, Double.infinity)
                        for _ in 0..<height {
                            var z = Double(bias[head * splits + u])
                            for j in 0..<d {
                                z +=
                                    Double(w[(head * splits + u) * d + j]) * Double(values[row + j])
                            }
                            smallest = Swift.min(smallest, Swift.abs(z))
                            u = z >= 0 ? 2 * u + 1 : 2 * u + 2
                        }
                        if smallest >= margin { break }
                        for j in 0..<d { values[row + j] = generator.nextNormal() }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, scalars: values)
    }
}
