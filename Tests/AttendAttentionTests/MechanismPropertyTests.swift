// Properties every registered mechanism must have, checked over the whole registry (xformers'
// registry-wide tests): [b, n, c] in and out, identical output from the same seed, finite output and
// gradients with padded positions, no information from the future when causal, and a clear refusal of
// causal masking when the mechanism has no causal form. A new mechanism gets these checks for free.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Testing

private let (b, n, c) = (2, 24, 16)

/// A small configuration every mechanism accepts.
private func smallConfiguration(seed: UInt64 = 5) -> MixerConfiguration {
    var configuration = MixerConfiguration(modelDimension: c, headCount: 2, maximumLength: 32)
    configuration.seed = seed
    return configuration
}

/// Batch entry 1 has its last 7 positions padded.
private let padding = Tensor.filled(shape: [b, n]) { m in
    for i in 0..<b { for t in 0..<n { m[i * n + t] = (i == 1 && t >= n - 7) ? 0 : 1 } }
}

@Suite struct MechanismPropertyTests {
    static let names = Mechanisms.names
    static let causalNames = Mechanisms.all.filter(\.capabilities.supportsCausal).map(\.name)
    static let nonCausalNames = Mechanisms.all.filter { !$0.capabilities.supportsCausal }.map(
        \.name)

    @Test(arguments: names)
    func keepsTheShapeAndIsDeterministicFromItsSeed(_ name: String) throws {
        let x = Tensor.randomNormal([b, n, c], seed: 1)
        let first = try Mechanisms.make(name, configuration: smallConfiguration())
        let second = try Mechanisms.make(name, configuration: smallConfiguration())
        first.eval()
        second.eval()
        let y = try first(x, context: MixerContext(paddingMask: padding))
        #expect(y.shape == [b, n, c], "\(name) output shape")
        let again = try second(x, context: MixerContext(paddingMask: padding))
        #expect(y.scalars == again.scalars, "\(name): the same seed must give bit-identical output")
        #expect(first.parameters.map(\.value.scalars) == second.parameters.map(\.value.scalars))
    }

    @Test(arguments: names)
    func paddedInputsGiveFiniteOutputsAndGradients(_ name: String) throws {
        let mixer = try Mechanisms.make(name, configuration: smallConfiguration())
        mixer.eval()
        let x = Tensor.randomNormal([b, n, c], seed: 2)
        let (value, grads) = try valueAndGradient(at: [x]) { inputs in
            try mixer(inputs[0], context: MixerContext(paddingMask: padding)).squared().mean()
        }
        #expect(value.scalar.isFinite, "\(name) loss")
        let inputFinite = grads[0].scalars.allSatisfy(\.isFinite)
        #expect(inputFinite, "\(name) input gradient")
        let inputReached = grads[0].scalars.contains { $0 != 0 }
        #expect(inputReached, "\(name): the input must receive a gradient")
        let (_, parameterGrads) = try valueAndGradient(of: mixer) { m in
            try m(x, context: MixerContext(paddingMask: padding)).squared().mean()
        }
        for p in mixer.parameters where p.isTrainable {
            if let g = parameterGrads[p] {
                let finite = g.scalars.allSatisfy(\.isFinite)
                #expect(finite, "\(name) parameter gradient")
            }
        }
    }

    @Test(arguments: causalNames)
    func causalOutputsIgnoreTheFuture(_ name: String) throws {
        let mixer = try Mechanisms.make(name, configuration: smallConfiguration(), causal: true)
        mixer.eval()
        let x = Tensor.randomNormal([1, n, c], seed: 3)
        let cut = 13
        let changed = Tensor.concatenated(
            [x.sliced(alongAxis: 1, 0..<cut), Tensor.randomNormal([1, n - cut, c], seed: 4)],
            alongAxis: 1)
        let y = try mixer(x, context: MixerContext(isCausal: true))
        let z = try mixer(changed, context: MixerContext(isCausal: true))
        try assertClose(
            z.sliced(alongAxis: 1, 0..<cut), y.sliced(alongAxis: 1, 0..<cut), .reordered,
            "\(name): positions before \(cut) changed when only later inputs did")
        #expect(z.sliced(alongAxis: 1, cut..<n).scalars != y.sliced(alongAxis: 1, cut..<n).scalars)
    }

    /// The kernel-op registry and its gradient checks are derived from the entries' `kernelOps`, so
    /// an entry must list every fused kernel its mixer records (bidirectional and causal).
    @Test(arguments: names)
    func recordsOnlyTheKernelOpsItsEntryDeclares(_ name: String) throws {
        let mechanism = try Mechanisms.named(name)
        let known = Set(Op.allCases + (mechanism.kernelOps + NNKernelOps.all).map { $0.op })
        let x = Tensor.randomNormal([b, n, c], seed: 6).requiringGradient()
        let mixer = try Mechanisms.make(name, configuration: smallConfiguration())
        let y = try mixer(x, context: MixerContext(paddingMask: padding))
        var recorded = y.recordedOps
        if mechanism.capabilities.supportsCausal {
            let causal = try Mechanisms.make(
                name, configuration: smallConfiguration(), causal: true)
            let z = try causal(x, context: MixerContext(isCausal: true))
            recorded += z.recordedOps
        }
        let undeclared = recorded.filter { !known.contains($0) }
        #expect(
            undeclared.isEmpty, "\(name) records kernel ops its entry does not list: \(undeclared)")
    }

    @Test(arguments: nonCausalNames)
    func mechanismsWithoutACausalFormRefuseIt(_ name: String) {
        #expect(throws: MixerError.self) {
            _ = try Mechanisms.make(name, configuration: smallConfiguration(), causal: true)
        }
    }

    @Test func unknownNamesListTheValidOnes() {
        do {
            _ = try Mechanisms.named("fulll")
            Issue.record("an unknown name must throw")
        } catch {
            #expect("\(error)".contains("full") && "\(error)".contains("performer"))
        }
    }

    @Test func namesAreStableLowerCaseIdentifiers() {
        #expect(Set(Self.names).count == Self.names.count)
        for name in Self.names {
            #expect(name == name.lowercased() && !name.contains(" "), "\(name)")
        }
    }
}
