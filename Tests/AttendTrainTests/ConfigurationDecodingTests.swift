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
    zip(Mirror(reflecting: value).children, Mirror(reflecting: reference).children).compactMap { field, old in
        "\(field.value)" == "\(old.value)" ? field.label ?? "?" : nil
    }
}

/// Checks that `changed` differs from `reference` in every field and decodes back to itself.
private func expectEveryFieldRoundTrips<T: Codable & Equatable>(
    _ changed: T, from reference: T, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(unchangedFields(changed, from: reference).isEmpty, "\(T.self)", sourceLocation: sourceLocation)
    #expect(try roundTripped(changed) == changed, "\(T.self)", sourceLocation: sourceLocation)
}

@Suite struct ConfigurationDecodingTests {
    let shape = #"{"model_dimension": 8, "head_count": 2, "maximum_length": 16"#
    let modelShape = #""vocabulary_size": 10, "model_dimension": 8, "layer_count": 1, "head_count": 2,"#
        + #" "feed_forward_dimension": 16, "maximum_length": 12"#

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
            try decoded(shape + "}")
                == MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 16))
        let model = ModelConfiguration(
            vocabularySize: 10, modelDimension: 8, layerCount: 1, headCount: 2, feedForwardDimension: 16,
            maximumLength: 12)
        #expect(try decoded("{" + modelShape + "}") == model)
        #expect(
            try decoded(#"{"task": "listops", "model": {"# + modelShape + #"}, "steps": 3, "batch_size": 4,"#
                + #" "learning_rate": 0.5}"#)
                == TrainingConfiguration(task: "listops", model: model, steps: 3, batchSize: 4, learningRate: 0.5))
        let bert = BertConfiguration(
            vocabularySize: 10, modelDimension: 8, layerCount: 1, headCount: 2, feedForwardDimension: 16)
        let bertJSON = #"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,"#
            + #" "intermediate_size": 16}"#
        #expect(try decoded(bertJSON) == bert)
        #expect(
            try decoded(#"{"directory": "d", "labels": ["a"], "bert": "# + bertJSON + "}")
                == PretrainedInitialization(directory: "d", bert: bert, labels: ["a"]))
        #expect(try decoded(#"{"rate": 0.25}"#) == MaskingOptions(rate: 0.25))
        #expect(
            try decoded(#"{"format": "csv", "train": "t.csv"}"#)
                == UserDataConfiguration(format: .csv, train: "t.csv"))
    }

    @Test func mechanismOptionsWithEveryFieldSetRoundTrip() throws {
        var full = FullAttention.Options()
        full.path = .reference
        try expectEveryFieldRoundTrips(full, from: FullAttention.Options())
        try expectEveryFieldRoundTrips(LocalAttention.Options(windowSize: 7), from: LocalAttention.Options())
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
        (longShort.segmentSize, longShort.landmarkCount, longShort.chunkSize, longShort.chunkRank) = (2, 3, 4, 5)
        try expectEveryFieldRoundTrips(longShort, from: LongShortAttention.Options())
        var flash = FlashGAU.Options()
        (flash.mode, flash.expansion, flash.sharedDimension, flash.chunkSize) = (.quadratic, 3, 16, 32)
        (flash.relativeBias, flash.maximumRelativeDistance, flash.path) = (false, 9, .reference)
        try expectEveryFieldRoundTrips(flash, from: FlashGAU.Options())
        var deberta = DisentangledAttention.Options()
        (deberta.positionTerms, deberta.buckets) = ([.positionToContent], RelativePositionBuckets(bucketSize: 8, maxPosition: 32))
        (deberta.shareAttentionKey, deberta.normalizeRelativeEmbeddings) = (false, false)
        (deberta.layerNormEpsilon, deberta.path) = (1e-5, .reference)
        try expectEveryFieldRoundTrips(deberta, from: DisentangledAttention.Options())
        var mgk = MixtureOfGaussianKeysAttention.Options()
        (mgk.components, mgk.keys, mgk.assignment, mgk.priors) = (3, .offsets, .hard, .fixed)
        (mgk.varianceScales, mgk.score, mgk.headDimension, mgk.path) = ([1, 3], .dotProduct, 4, .reference)
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
        (evolving.convolutionWeight, evolving.activation, evolving.memoryBudget) = (0.5, .relu, 1 << 20)
        try expectEveryFieldRoundTrips(evolving, from: EvolvingAttention.Options())
    }

    @Test func modelAndRunConfigurationsWithEveryFieldSetRoundTrip() throws {
        let defaultMixer = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 16)
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
        try expectEveryFieldRoundTrips(mixer, from: defaultMixer)

        var switchOptions = SwitchFeedForward.Options()
        (switchOptions.expertCount, switchOptions.capacityFactor, switchOptions.evaluationCapacityFactor) = (2, 1, 3)
        (switchOptions.expertCapacity, switchOptions.auxiliaryLossCoefficient) = (4, 0.5)
        (switchOptions.zLossCoefficient, switchOptions.jitter) = (0.25, 0)
        (switchOptions.activation, switchOptions.layerInterval) = (.gelu, 2)
        try expectEveryFieldRoundTrips(switchOptions, from: SwitchFeedForward.Options())

        let bert = BertConfiguration(
            vocabularySize: 10, modelDimension: 8, layerCount: 1, headCount: 2, feedForwardDimension: 16)
        var changedBert = BertConfiguration(
            vocabularySize: 11, modelDimension: 12, layerCount: 2, headCount: 3, feedForwardDimension: 17)
        (changedBert.activation, changedBert.layerNormEpsilon, changedBert.maximumPositions) = (.relu, 1e-5, 64)
        (changedBert.typeVocabularySize, changedBert.hiddenDropout, changedBert.attentionDropout) = (1, 0, 0.2)
        (changedBert.initializerRange, changedBert.paddingTokenID) = (0.5, 3)
        try expectEveryFieldRoundTrips(changedBert, from: bert)
        var pretrained = PretrainedInitialization(directory: "e", bert: changedBert, labels: ["b", "c"])
        (pretrained.freezeEncoder, pretrained.segmentSeparatorID) = (true, 102)
        try expectEveryFieldRoundTrips(pretrained, from: PretrainedInitialization(directory: "d", bert: bert, labels: ["a"]))

        let model = ModelConfiguration(
            vocabularySize: 10, modelDimension: 8, layerCount: 1, headCount: 2, feedForwardDimension: 16,
            maximumLength: 12)
        var changedModel = ModelConfiguration(
            vocabularySize: 11, modelDimension: 12, layerCount: 2, headCount: 3, feedForwardDimension: 17,
            maximumLength: 13)
        (changedModel.mixer, changedModel.upperMixer, changedModel.mixerOptions) = ("local", "full", mixer)
        (changedModel.activation, changedModel.dropout, changedModel.preNorm) = (.relu, 0.3, false)
        (changedModel.positions, changedModel.tokenEmbeddingScale, changedModel.pooling) = (.learned, 0.02, .mean)
        (changedModel.layerNormEpsilon, changedModel.feedForward) = (1e-5, .switch)
        (changedModel.switchFeedForward, changedModel.classCount, changedModel.headDimension) = (switchOptions, 5, 6)
        (changedModel.seed, changedModel.architecture, changedModel.patchSize) = (9, .vit, 2)
        (changedModel.imageChannels, changedModel.pretrained) = (3, pretrained)
        try expectEveryFieldRoundTrips(changedModel, from: model)

        var data = UserDataConfiguration(format: .jsonl, train: "u.jsonl")
        (data.validation, data.test, data.validationFraction) = ("v.jsonl", "w.jsonl", 0.2)
        (data.fields, data.labels, data.skipBadLines) = (FieldNames(text: "t", label: "l"), ["x"], true)
        (data.tokenizer, data.windowLength, data.seed) = (.wordPiece(directory: "m"), 64, 5)
        try expectEveryFieldRoundTrips(data, from: UserDataConfiguration(format: .csv, train: "t.csv"))
        try expectEveryFieldRoundTrips(
            MaskingOptions(rate: 0.5, span: 3, patch: 2), from: MaskingOptions(rate: 0.25))
        let taskOptions = TaskOptions(preset: .tiny, seed: 4, data: data, masking: MaskingOptions(rate: 0.5))
        try expectEveryFieldRoundTrips(taskOptions, from: TaskOptions())

        let run = TrainingConfiguration(task: "listops", model: model, steps: 3, batchSize: 4, learningRate: 0.5)
        var changedRun = TrainingConfiguration(
            task: "text", taskOptions: taskOptions, model: changedModel, steps: 5, batchSize: 6, learningRate: 0.25,
            warmupSteps: 2, weightDecay: 0.01)
        (changedRun.schedule, changedRun.beta1, changedRun.beta2, changedRun.epsilon) = (.linear, 0.8, 0.9, 1e-8)
        (changedRun.gradientClip, changedRun.labelSmoothing, changedRun.seed) = (0, 0.1, 8)
        (changedRun.evaluationInterval, changedRun.evaluationExamples) = (10, 20)
        (changedRun.checkpointInterval, changedRun.logInterval, changedRun.encoderFrom) = (30, 40, "runs/pre")
        (changedRun.accumulate, changedRun.checkpointActivations) = (2, 1)
        try expectEveryFieldRoundTrips(changedRun, from: run)
    }

    @Test func pretrainedConfigurationsWithEveryFieldSetRoundTrip() throws {
        var vit = ViTConfiguration(
            modelDimension: 16, layerCount: 2, headCount: 4, feedForwardDimension: 32, imageSize: 32, patchSize: 8,
            channelCount: 1, numerics: .jax)
        (vit.qkvBias, vit.hiddenDropout, vit.attentionDropout, vit.initializerRange) = (false, 0.1, 0.2, 0.5)
        try expectEveryFieldRoundTrips(vit, from: .base16)
        var deberta = DebertaV2Configuration()
        (deberta.vocabularySize, deberta.modelDimension, deberta.layerCount, deberta.headCount) = (10, 8, 1, 2)
        (deberta.feedForwardDimension, deberta.activation, deberta.hiddenDropout) = (16, .geluTanh, 0)
        (deberta.attentionDropout, deberta.maximumPositions, deberta.typeVocabularySize) = (0, 64, 2)
        (deberta.layerNormEpsilon, deberta.relativeAttention, deberta.maxRelativePositions) = (1e-5, true, 32)
        (deberta.positionBuckets, deberta.positionAttentionTypes, deberta.shareAttentionKey) = (16, ["c2p"], true)
        (deberta.normalizeRelativeEmbeddings, deberta.positionBiasedInput) = (["layer_norm"], false)
        (deberta.embeddingSize, deberta.attentionHeadSize, deberta.convolutionKernelSize) = (4, 4, 3)
        try expectEveryFieldRoundTrips(deberta, from: DebertaV2Configuration())
    }
}
