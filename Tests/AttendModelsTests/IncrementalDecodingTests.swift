// Incremental decoding over the registry: for every mechanism that declares a causal form, a tiny
// causal LM's logits from prefill + one step per token equal its full causal forward's at every
// position, for a batch of right-padded prompts of different lengths whose continuations cross the
// window, segment, chunk and leaf sizes configured below. Mechanisms that cannot decode yet are
// listed and must refuse, naming themselves; a new causal mechanism is covered without new test
// code.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Testing

@testable import AttendModels

@Suite struct IncrementalDecodingTests {
    /// Causal mechanisms without a decoding state yet: they must refuse (shrink this as they
    /// learn).
    static let refusing: Set<String> = []
    static let causalNames = Mechanisms.all.filter(\.capabilities.supportsCausal).map(\.name)
    /// Prompt lengths, and steps decoded after each prompt: positions 3…20 cross windows of 3,
    /// segments, chunks and leaves of 4.
    static let promptLengths = [3, 7, 12], steps = 9

    static func configuration(mixer: String) -> ModelConfiguration {
        var model = ModelConfiguration(
            vocabularySize: 17, modelDimension: 8, layerCount: 2, headCount: 2,
            feedForwardDimension: 16,
            maximumLength: 24)
        model.mixer = mixer
        model.dropout = 0
        model.seed = 5
        var options = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 24)
        options.local.windowSize = 3
        options.performer.featureCount = 8
        options.longShort.segmentSize = 4
        options.longShort.chunkSize = 4
        options.flash.chunkSize = 4
        options.flash.sharedDimension = 8
        options.treeformer.leafSize = 4
        options.spade.s4.stateSize = 4
        options.evolving.windowSize = 3
        options.hypercube.blockSize = 2
        // Log buckets past distance 4.
        options.deberta.buckets = RelativePositionBuckets(bucketSize: 8, maxPosition: 16)
        model.mixerOptions = options
        return model
    }

    /// Token t of sequence i (never the padding id 0).
    static func token(_ i: Int, _ t: Int) -> Int { (i * 7 + t * 5 + t * t) % 16 + 1 }

    /// Checks prefill + steps against each sequence's own causal forward.
    static func checkDecoding(_ lm: CausalLM, label: String) throws {
        let n = promptLengths.max()!
        let prompts = Indices(
            shape: [promptLengths.count, n],
            values: promptLengths.enumerated().flatMap { i, length in
                (0..<n).map { $0 < length ? token(i, $0) : 0 }
            })
        let (prefillLogits, state) = try lm.prefill(prompts, lengths: promptLengths)
        var decoded = promptLengths.indices.map { i in
            (0..<promptLengths[i]).map {
                prefillLogits.sliced(alongAxis: 0, i..<i + 1).sliced(alongAxis: 1, $0..<$0 + 1)
                    .scalars
            }
        }
        for _ in 0..<steps {
            let next = promptLengths.indices.map { token($0, state.lengths[$0]) }
            let logits = try lm.step(next, state: state)  // [b, vocabulary]
            for i in promptLengths.indices {
                decoded[i].append(logits.sliced(alongAxis: 0, i..<i + 1).scalars)
            }
        }
        for (i, rows) in decoded.enumerated() {
            let sequence = (0..<rows.count).map { token(i, $0) }
            let expected = try lm(Indices(shape: [1, rows.count], values: sequence)).logits
            try assertClose(
                rows.flatMap { $0 }, expected.scalars, .decoding, "\(label), sequence \(i)",
                shape: expected.shape)
        }
    }

    @Test(arguments: IncrementalDecodingTests.causalNames)
    func decodingEqualsTheCausalForwardOrRefuses(name: String) throws {
        let lm = try CausalLM(Self.configuration(mixer: name))
        lm.eval()
        guard !Self.refusing.contains(name) else {
            let prompt = Indices(shape: [1, 2], values: [1, 2])
            #expect {
                _ = try lm.prefill(prompt, lengths: [2])
            } throws: { error in
                guard case MixerError.decodingUnsupported(let mechanism, _) = error else {
                    return false
                }
                return mechanism == name
            }
            return
        }
        try Self.checkDecoding(lm, label: name)
    }

    @Test func switchLayersDecodeWithAFixedCapacityAndRefuseCapacityFactors() throws {
        var model = Self.configuration(mixer: "full")
        model.feedForward = .switch
        model.switchFeedForward.expertCount = 2
        // Binding: later tokens of a busy expert are dropped.
        model.switchFeedForward.expertCapacity = 4
        let lm = try CausalLM(model)
        lm.eval()
        try Self.checkDecoding(lm, label: "full + switch")
        model.switchFeedForward.expertCapacity = nil
        let factors = try CausalLM(model)
        factors.eval()
        #expect {
            _ = try factors.prefill(Indices(shape: [1, 2], values: [1, 2]), lengths: [2])
        } throws: { error in
            guard case MixerError.decodingUnsupported("switch", let reason) = error else {
                return false
            }
            return reason.contains("expert_capacity")
        }
    }

    @Test func learnedPositionsAndPostNormDecodeToo() throws {
        var model = Self.configuration(mixer: "local")
        model.positions = .learned
        model.preNorm = false
        // Longer than every prompt: the ring grows, then wraps.
        model.mixerOptions!.local.windowSize = 16
        let lm = try CausalLM(model)
        lm.eval()
        try Self.checkDecoding(lm, label: "local (window 16), learned positions, post-LN")
    }

    /// Configurations whose state does not exist refuse, naming the mechanism and the reason.
    @Test func configurationsWithoutAStateRefuse() throws {
        func refusal(
            _ mixer: String, _ configure: (inout MixerConfiguration) -> Void
        ) throws -> String? {
            var model = Self.configuration(mixer: mixer)
            configure(&model.mixerOptions!)
            let lm = try CausalLM(model)
            lm.eval()
            do {
                _ = try lm.prefill(Indices(shape: [1, 2], values: [1, 2]), lengths: [2])
                return nil
            } catch MixerError.decodingUnsupported(let mechanism, let reason) {
                #expect(mechanism == mixer)
                return reason
            }
        }
        #expect(try refusal("flash-gau") { $0.flash.mode = .quadratic }?.contains("1/n") == true)
        #expect(try refusal("evolving") { $0.evolving.base = .local }?.contains("banded") == true)
        #expect(
            try refusal("treeformer") { $0.treeformer.coarseWeight = 0.5 }?.contains("coarse")
                == true)
    }
}
