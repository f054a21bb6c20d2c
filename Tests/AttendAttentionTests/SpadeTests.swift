// SPADE's bottom layer: each combination against its formula built from the layer's own parts
// (S4D on zero-filled padding, the attention branch, the two norms, W_agg), causality, padding
// independence, finite differences, and the refusal of an unusable attention branch. Most tests use
// `full` for the attention branch so the S4D part is what they exercise; one checks the default,
// `local`, and that a window covering the input makes it equal to the `full` branch.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Testing

@Suite struct SpadeTests {
    static func configuration(_ combine: SpadeMixer.Combine, width: Int = 8, heads: Int = 2)
        -> MixerConfiguration
    {
        var configuration = MixerConfiguration(
            modelDimension: width, headCount: heads, maximumLength: 64)
        configuration.spade.attention = "full"
        configuration.spade.combine = combine
        configuration.spade.s4.stateSize = 8
        configuration.seed = 3
        return configuration
    }

    static func mixer(_ combine: SpadeMixer.Combine) throws -> SpadeMixer {
        try #require(
            try Mechanisms.make("spade", configuration: configuration(combine)) as? SpadeMixer)
    }

    @Test(arguments: SpadeMixer.Combine.allCases)
    func combinesBranchesAsTheReferenceDoes(_ combine: SpadeMixer.Combine) throws {
        let spade = try Self.mixer(combine)
        let x = Tensor.randomNormal([2, 19, 8], seed: 1)
        let mask = Tensor.filled(shape: [2, 19]) { m in
            for i in m.indices { m[i] = i >= 19 + 14 ? 0 : 1 }
        }
        let context = MixerContext(paddingMask: mask)
        let y = try spade(x, context: context)
        let global = spade.s4(x * mask.reshaped([2, 19, 1]), causal: false)
        let expected: Tensor
        switch combine {
        case .stack:
            expected = try spade.attention(global, context: context)
        case .add:
            let local = try spade.attention(x, context: context)
            expected = spade.s4Norm!(global) * 0.5 + spade.attentionNorm!(local) * 0.5
        case .concat:
            let local = try spade.attention(x, context: context)
            expected = spade.aggregate!(
                Tensor.concatenated(
                    [spade.s4Norm!(global), spade.attentionNorm!(local)], alongAxis: 2))
        }
        try assertClose(y, expected, .reordered, "SPADE \(combine)")
        #expect(spade.namedParameters().map(\.0).contains("s4.log_dt"))
        #expect(spade.namedParameters().map(\.0).contains("attention.query.weight"))
    }

    @Test(arguments: SpadeMixer.Combine.allCases)
    func causalLayerIgnoresTheFuture(_ combine: SpadeMixer.Combine) throws {
        let spade = try Self.mixer(combine)
        let x = Tensor.randomNormal([1, 16, 8], seed: 2)
        var changed = x
        changed.withUnsafeMutableBufferPointer { for i in (10 * 8)..<(16 * 8) { $0[i] = -$0[i] } }
        let context = { MixerContext(isCausal: true) }
        let (a, b) = (
            try spade(x, context: context()).scalars, try spade(changed, context: context()).scalars
        )
        try assertClose(
            Array(b[0..<(10 * 8)]), Array(a[0..<(10 * 8)]),
            Tolerance(absolute: 1e-5, relative: 1e-5), "past outputs")
    }

    @Test func paddedPositionsDoNotReachRealTokens() throws {
        let spade = try Self.mixer(.concat)
        let x = Tensor.randomNormal([1, 12, 8], seed: 4)
        var changed = x
        changed.withUnsafeMutableBufferPointer { for i in (9 * 8)..<(12 * 8) { $0[i] += 3 } }
        let mask = Tensor(shape: [1, 12], scalars: (0..<12).map { $0 < 9 ? 1 : 0 })
        let a = try spade(x, context: MixerContext(paddingMask: mask)).scalars
        let b = try spade(changed, context: MixerContext(paddingMask: mask)).scalars
        try assertClose(
            Array(b[0..<(9 * 8)]), Array(a[0..<(9 * 8)]), Tolerance(absolute: 1e-5, relative: 1e-5),
            "real tokens")
    }

    @Test(arguments: SpadeMixer.Combine.allCases)
    func gradientsMatchFiniteDifferences(_ combine: SpadeMixer.Combine) throws {
        let spade = try Self.mixer(combine)
        let x = Tensor.randomNormal([1, 7, 8], seed: 5)
        // The S4D parameters' gradients are checked in S4DTests; here the whole layer's input.
        try GradientCheck.check([x], label: "SPADE \(combine)") { v in
            try! spade(v[0], context: MixerContext())
        }
    }

    @Test(arguments: [false, true])
    func everyParameterMatchesFiniteDifferences(_ causal: Bool) throws {
        var configuration = Self.configuration(.concat)
        configuration.spade.s4.stateSize = 4
        let spade = try Mechanisms.make("spade", configuration: configuration)
        let mask = causal ? nil : Tensor(shape: [1, 6], scalars: [1, 1, 1, 1, 1, 0])
        try checkMixerGradients(
            spade, input: Tensor.randomNormal([1, 6, 8], seed: 8), paddingMask: mask,
            causal: causal,
            label: "SPADE \(causal ? "causal" : "bidirectional")")
    }

    @Test func refusesAnAttentionBranchThatIsNotRegistered() throws {
        var configuration = Self.configuration(.concat)
        configuration.spade.attention = "no-such-mechanism"
        #expect(throws: MixerError.self) {
            try Mechanisms.make("spade", configuration: configuration)
        }
        configuration.spade.attention = "spade"
        #expect(throws: MixerError.self) {
            try Mechanisms.make("spade", configuration: configuration)
        }
    }

    @Test func defaultBranchIsLocalAttention() throws {
        var configuration = Self.configuration(.concat)
        configuration.spade = SpadeMixer.Options()
        configuration.spade.s4.stateSize = 8
        configuration.local.windowSize = 64  // covers the 19 tokens: local = full
        let local = try #require(
            try Mechanisms.make("spade", configuration: configuration) as? SpadeMixer)
        #expect((local.attention as? MultiHeadAttention)?.core is LocalAttention)
        configuration.spade.attention = "full"
        let full = try #require(
            try Mechanisms.make("spade", configuration: configuration) as? SpadeMixer)
        let x = Tensor.randomNormal([2, 19, 8], seed: 6)
        try assertClose(
            try local(x, context: MixerContext()), try full(x, context: MixerContext()),
            Tolerance(absolute: 1e-5, relative: 1e-4),
            "SPADE with a window covering the input vs with full attention")
    }

    @Test func declaresLocalAttentionForTheLayersAbove() throws {
        #expect(try Mechanisms.named("spade").capabilities.upperLayerMixer == "local")
    }
}
