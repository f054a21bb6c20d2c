// Every configuration type decodes by starting from its default value and overriding only what the
// file has (DecodingDefaults.swift). An empty object (or one with only the required fields) gives
// the default; a value with every field changed from its default survives a round trip, so no
// field is left out of a decoder. `everyFieldDiffers` keeps the second test honest: a field added
// without a changed value here fails it.
import AttendAttention
import AttendData
import AttendModels
import AttendTrain
import Foundation
import Testing

private func decoded<T: Decodable>(_ json: String, as type: T.Type = T.self) throws -> T {
    try JSONDecoder().decode(type, from: Data(json.utf8))
}

private func roundTripped<T: Codable>(_ value: T) throws -> T {
    try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
}

/// The stored properties of `value` whose printed values equal those of `reference`.
private func unchangedFields<T>(_ value: T, from reference: T) -> [String] {
    let pairs = zip(Mirror(reflecting: value).children, Mirror(reflecting: reference).children)
    return pairs.compactMap { field, old in
        "\(field.value)" == "\(old.value)" ? field.label ?? "?" : nil
    }
}

/// Checks that `changed` differs from `reference` in every field and decodes back to itself.
private func expectEveryFieldRoundTrips<T: Codable & Equatable>(
    _ changed: T, from reference: T, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let unchanged = unchangedFields(changed, from: reference)
    #expect(unchanged.isEmpty, "\(T.self)", sourceLocation: sourceLocation)
    #expect(try roundTripped(changed) == changed, "\(T.self)", sourceLocation: sourceLocation)
}

/// A small model shape and its JSON keys.
private let smallModel = ModelConfiguration(
    vocabularySize: 10, modelDimension: 8, layerCount: 1, headCount: 2, feedForwardDimension: 16,
    maximumLength: 12)
private let smallModelKeys =
    #""vocabulary_size": 10, "model_dimension": 8, "layer_count": 1,"#
    + #" "head_count": 2, "feed_forward_dimension": 16, "maximum_length": 12"#
/// A small BERT shape and its config.json.
private let smallBert = BertConfiguration(
    vocabularySize: 10, modelDimension: 8, layerCount: 1, headCount: 2, feedForwardDimension: 16)
private let smallBertJSON =
    #"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,"#
    + #" "num_attention_heads": 2, "intermediate_size": 16}"#

@Suite struct ConfigurationDecodingTests {
    @Test func emptyObjectsDecodeToTheDefaults() throws {
        #expect(try decoded("{}") == FullAttention.Options())
        #expect(try decoded("{}") == LocalAttention.Options())
        #expect(try decoded("{}") == BigBirdAttention.Options())
        #expect(try decoded("{}") == LinformerAttention.Options())
        #expect(try decoded("{}") == PerformerAttention.Options())
        #expect(try decoded("{}") == LongShortAttention.Options())
        #expect(try decoded("{}") == FlashGAU.Options())
        #expect(try decoded("{}") == DisentangledAttention.Options())
        #expect(try decoded("{}") == MixtureOfGaussianKeysAttention.Options())
        #expect(try decoded("{}") == HypercubeAttention.Options())
        #expect(try decoded("{}") == TreeformerAttention.Options())
        #expect(try decoded("{}") == TreeformerAttention.Schedule())
        #expect(try decoded("{}") == S4D.Options())
        #expect(try decoded("{}") == SpadeMixer.Options())
        #expect(try decoded("{}") == EvolvingAttention.Options())
        #expect(try decoded("{}") == SwitchFeedForward.Options())
        #expect(try decoded("{}") == TaskOptions())
        #expect(try decoded("{}") == DebertaV2Configuration())
        #expect(try decoded("{}") == ViTConfiguration.base16)
    }

    @Test func requiredFieldsAloneDecodeToTheDefaults() throws {
        #expect(
            try decoded(#"{"model_dimension": 8, "head_count": 2, "maximum_length": 16}"#)
                == MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 16))
        #expect(try decoded("{" + smallModelKeys + "}") == smallModel)
        let run =
            #"{"task": "listops", "model": {"# + smallModelKeys + #"}, "steps": 3,"#
            + #" "batch_size": 4, "learning_rate": 0.5}"#
        #expect(
            try decoded(run)
                == TrainingConfiguration(
                    task: "listops", model: smallModel, steps: 3, batchSize: 4, learningRate: 0.5))
        #expect(try decoded(smallBertJSON) == smallBert)
        #expect(
            try decoded(#"{"directory": "d", "labels": ["a"], "bert": "# + smallBertJSON + "}")
                == PretrainedInitialization(directory: "d", bert: smallBert, labels: ["a"]))
        #expect(try decoded(#"{"rate": 0.25}"#) == MaskingOptions(rate: 0.25))
        #expect(
            try decoded(#"{"format": "csv", "train": "t.csv"}"#)
                == UserDataConfiguration(format: .csv, train: "t.csv"))
    }

    @Test func mechanismOptionsWithEveryFieldSetRoundTrip() throws {
        var full = FullAttention.Options()
        full.path = .reference
        try expectEveryFieldRoundTrips(full, from: FullAttention.Options())
        try expectEveryFieldRoundTrips(
            LocalAttention.Options(windowSize: 7), from: LocalAttention.Options())
        try expectEveryFieldRoundTrips(
            BigBirdAttention.Options(blockSize: 4, randomBlockCount: 1, randomLayout: .firstBlock),
            from: BigBirdAttention.Options())
        try expectEveryFieldRoundTrips(
            LinformerAttention.Options(projectedLength: 16, shareKeyValue: true, shareHeads: false),
            from: LinformerAttention.Options())
        var performer = PerformerAttention.Options()
        (performer.featureCount, performer.kernel, performer.featureRedrawInterval) = (8, .relu, 0)
        try expectEveryFieldRoundTrips(performer, from: PerformerAttention.Options())
        var longShort = LongShortAttention.Options()
        (longShort.segmentSize, longShort.landmarkCount) = (2, 3)
        (longShort.chunkSize, longShort.chunkRank) = (4, 5)
        try expectEveryFieldRoundTrips(longShort, from: LongShortAttention.Options())
        var flash = FlashGAU.Options()
        (flash.mode, flash.expansion, flash.sharedDimension) = (.quadratic, 3, 16)
        (flash.chunkSize, flash.relativeBias) = (32, false)
        (flash.maximumRelativeDistance, flash.path) = (9, .reference)
        try expectEveryFieldRoundTrips(flash, from: FlashGAU.Options())
        var deberta = DisentangledAttention.Options()
        deberta.positionTerms = [.positionToContent]
        deberta.buckets = RelativePositionBuckets(bucketSize: 8, maxPosition: 32)
        (deberta.shareAttentionKey, deberta.normalizeRelativeEmbeddings) = (false, false)
        (deberta.layerNormEpsilon, deberta.path) = (1e-5, .reference)
        try expectEveryFieldRoundTrips(deberta, from: DisentangledAttention.Options())
        var mgk = MixtureOfGaussianKeysAttention.Options()
        (mgk.components, mgk.keys, mgk.assignment, mgk.priors) = (3, .offsets, .hard, .fixed)
        (mgk.varianceScales, mgk.score) = ([1, 3], .dotProduct)
        (mgk.headDimension, mgk.path) = (4, .reference)
        try expectEveryFieldRoundTrips(mgk, from: MixtureOfGaussianKeysAttention.Options())
        var hypercube = HypercubeAttention.Options()
        (hypercube.blockSize, hypercube.path) = (16, .reference)
        try expectEveryFieldRoundTrips(hypercube, from: HypercubeAttention.Options())
        var treeformer = TreeformerAttention.Options()
        (treeformer.height, treeformer.leafSize, treeformer.coarseWeight) = (3, 8, 0.5)
        treeformer.schedule = TreeformerAttention.Schedule(fullAttentionSteps: 2, coarseSteps: 3)
        treeformer.dataInitialization = false
        try expectEveryFieldRoundTrips(treeformer, from: TreeformerAttention.Options())
        try expectEveryFieldRoundTrips(treeformer.schedule, from: TreeformerAttention.Schedule())
        var s4 = S4D.Options()
        (s4.stateSize, s4.initialization, s4.dtMinimum, s4.dtMaximum) = (8, .inv, 0.01, 0.2)
        s4.stateMatrixLearningRate = 0.5
        try expectEveryFieldRoundTrips(s4, from: S4D.Options())
        var spade = SpadeMixer.Options()
        (spade.attention, spade.combine, spade.s4Weight, spade.s4) = ("full", .add, 0.25, s4)
        try expectEveryFieldRoundTrips(spade, from: SpadeMixer.Options())
        var evolving = EvolvingAttention.Options()
        (evolving.base, evolving.windowSize, evolving.residualWeight) = (.local, 8, 0.5)
        (evolving.convolutionWeight, evolving.activation) = (0.5, .relu)
        evolving.memoryBudget = 1 << 20
        try expectEveryFieldRoundTrips(evolving, from: EvolvingAttention.Options())
    }

    @Test func modelAndRunConfigurationsWithEveryFieldSetRoundTrip() throws {
        var mixer = MixerConfiguration(modelDimension: 12, headCount: 3, maximumLength: 20)
        (mixer.projectionBias, mixer.attentionDropout, mixer.seed) = (false, 0.1, 7)
        mixer.full.path = .reference
        mixer.local.windowSize = 3
        mixer.bigbird.blockSize = 2
        mixer.linformer.projectedLength = 4
        mixer.performer.featureCount = 4
        mixer.longShort.segmentSize = 4
        mixer.flash.chunkSize = 4
        mixer.deberta.path = .reference
        mixer.mgk.components = 3
        mixer.hypercube.blockSize = 4
        mixer.treeformer.leafSize = 4
        mixer.spade.s4Weight = 0.25
        mixer.evolving.windowSize = 4
        try expectEveryFieldRoundTrips(
            mixer, from: MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 16))

        var switchOptions = SwitchFeedForward.Options()
        (switchOptions.expertCount, switchOptions.capacityFactor) = (2, 1)
        (switchOptions.evaluationCapacityFactor, switchOptions.expertCapacity) = (3, 4)
        (switchOptions.auxiliaryLossCoefficient, switchOptions.zLossCoefficient) = (0.5, 0.25)
        (switchOptions.jitter, switchOptions.activation) = (0, .gelu)
        switchOptions.layerInterval = 2
        try expectEveryFieldRoundTrips(switchOptions, from: SwitchFeedForward.Options())

        var bert = BertConfiguration(
            vocabularySize: 11, modelDimension: 12, layerCount: 2, headCount: 3,
            feedForwardDimension: 17)
        (bert.activation, bert.layerNormEpsilon, bert.maximumPositions) = (.relu, 1e-5, 64)
        (bert.typeVocabularySize, bert.hiddenDropout, bert.attentionDropout) = (1, 0, 0.2)
        (bert.initializerRange, bert.paddingTokenID) = (0.5, 3)
        try expectEveryFieldRoundTrips(bert, from: smallBert)
        var pretrained = PretrainedInitialization(directory: "e", bert: bert, labels: ["b", "c"])
        (pretrained.freezeEncoder, pretrained.segmentSeparatorID) = (true, 102)
        (pretrained.positionExtension, pretrained.trainedPositions) = (.interpolate, 32)
        let defaultPretrained = PretrainedInitialization(
            directory: "d", bert: smallBert, labels: ["a"])
        try expectEveryFieldRoundTrips(pretrained, from: defaultPretrained)

        var model = ModelConfiguration(
            vocabularySize: 11, modelDimension: 12, layerCount: 2, headCount: 3,
            feedForwardDimension: 17, maximumLength: 13)
        (model.mixer, model.upperMixer, model.mixerOptions) = ("local", "full", mixer)
        (model.activation, model.dropout, model.preNorm) = (.relu, 0.3, false)
        (model.positions, model.tokenEmbeddingScale, model.pooling) = (.learned, 0.02, .mean)
        (model.layerNormEpsilon, model.feedForward) = (1e-5, .switch)
        (model.switchFeedForward, model.classCount, model.headDimension) = (switchOptions, 5, 6)
        (model.seed, model.architecture, model.patchSize) = (9, .vit, 2)
        (model.imageChannels, model.pretrained) = (3, pretrained)
        try expectEveryFieldRoundTrips(model, from: smallModel)

        var data = UserDataConfiguration(format: .jsonl, train: "u.jsonl")
        (data.validation, data.test, data.validationFraction) = ("v.jsonl", "w.jsonl", 0.2)
        (data.fields, data.labels) = (FieldNames(text: "t", label: "l"), ["x"])
        (data.skipBadLines, data.tokenizer) = (true, .wordPiece(directory: "m"))
        (data.windowLength, data.seed) = (64, 5)
        try expectEveryFieldRoundTrips(
            data, from: UserDataConfiguration(format: .csv, train: "t.csv"))
        try expectEveryFieldRoundTrips(
            MaskingOptions(rate: 0.5, span: 3, patch: 2), from: MaskingOptions(rate: 0.25))
        let taskOptions = TaskOptions(
            preset: .tiny, seed: 4, data: data, masking: MaskingOptions(rate: 0.5))
        try expectEveryFieldRoundTrips(taskOptions, from: TaskOptions())

        var run = TrainingConfiguration(
            task: "text", taskOptions: taskOptions, model: model, steps: 5, batchSize: 6,
            learningRate: 0.25, warmupSteps: 2, weightDecay: 0.01)
        (run.schedule, run.beta1, run.beta2, run.epsilon) = (.linear, 0.8, 0.9, 1e-8)
        (run.gradientClip, run.labelSmoothing, run.seed) = (0, 0.1, 8)
        (run.evaluationInterval, run.evaluationExamples) = (10, 20)
        (run.checkpointInterval, run.logInterval, run.encoderFrom) = (30, 40, "runs/pre")
        (run.accumulate, run.checkpointActivations) = (2, 1)
        try expectEveryFieldRoundTrips(
            run,
            from: TrainingConfiguration(
                task: "listops", model: smallModel, steps: 3, batchSize: 4, learningRate: 0.5))
    }

    @Test func pretrainedConfigurationsWithEveryFieldSetRoundTrip() throws {
        var vit = ViTConfiguration(
            modelDimension: 16, layerCount: 2, headCount: 4, feedForwardDimension: 32,
            imageSize: 32, patchSize: 8, channelCount: 1, numerics: .jax)
        (vit.qkvBias, vit.hiddenDropout) = (false, 0.1)
        (vit.attentionDropout, vit.initializerRange) = (0.2, 0.5)
        try expectEveryFieldRoundTrips(vit, from: .base16)
        var deberta = DebertaV2Configuration()
        (deberta.vocabularySize, deberta.modelDimension) = (10, 8)
        (deberta.layerCount, deberta.headCount, deberta.feedForwardDimension) = (1, 2, 16)
        (deberta.activation, deberta.hiddenDropout, deberta.attentionDropout) = (.geluTanh, 0, 0)
        (deberta.maximumPositions, deberta.typeVocabularySize) = (64, 2)
        (deberta.layerNormEpsilon, deberta.relativeAttention) = (1e-5, true)
        (deberta.maxRelativePositions, deberta.positionBuckets) = (32, 16)
        (deberta.positionAttentionTypes, deberta.shareAttentionKey) = (["c2p"], true)
        (deberta.normalizeRelativeEmbeddings, deberta.positionBiasedInput) = (["layer_norm"], false)
        (deberta.embeddingSize, deberta.attentionHeadSize) = (4, 4)
        deberta.convolutionKernelSize = 3
        try expectEveryFieldRoundTrips(deberta, from: DebertaV2Configuration())
        let normalization = ImageNormalization(
            rescaleFactor: 0.5, mean: [0.1], standardDeviation: [0.2])
        try expectEveryFieldRoundTrips(normalization, from: .vitDefault(channels: 3))
        var fineTunedViT = PretrainedInitialization(
            directory: "v", architecture: .vit(vit, normalization), labels: ["x"])
        fineTunedViT.freezeEncoder = true
        #expect(try roundTripped(fineTunedViT) == fineTunedViT)
        var head = DebertaV2ClassifierHead()
        (head.activation, head.poolerDropout) = (.tanh, 0.2)
        (head.classifierDropout, head.poolerWidth) = (0.3, 8)
        try expectEveryFieldRoundTrips(head, from: DebertaV2ClassifierHead())
        let fineTunedDeberta = PretrainedInitialization(
            directory: "w", architecture: .debertaV2(deberta, head), labels: ["y"])
        #expect(try roundTripped(fineTunedDeberta) == fineTunedDeberta)
    }
}
