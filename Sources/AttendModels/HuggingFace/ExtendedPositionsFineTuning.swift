// Fine-tuning beyond a checkpoint's positions (`attend train --init-from DIR --seq-len N
// --extend-positions tile|interpolate`): the run's model is built with N positions, and the
// folder's [512, c] table grows to [N, c] once, when the folder's weights are copied in, exactly
// as `attend embed --max-length N` grows it (PositionExtension). The run's configuration records
// the method and the folder's length, and its model file holds the grown table, so `attend eval`,
// `predict`, `--resume` and `export` rebuild the same model without extending anything again.
import AttendCore
import AttendNN

extension PretrainedInitialization {
    /// This initialization with a BERT encoder's position table grown to `positions` rows by
    /// `method` (the folder's own length kept in `trainedPositions`); unchanged when `positions`
    /// does not exceed the table or the folder is not a BERT.
    public func extendingPositions(
        to positions: Int, by method: PositionExtension
    ) -> PretrainedInitialization {
        guard case .bert(var configuration) = architecture,
            positions > configuration.maximumPositions
        else { return self }
        var extended = self
        extended.trainedPositions = trainedPositions ?? configuration.maximumPositions
        extended.positionExtension = method
        configuration.maximumPositions = positions
        extended.architecture = .bert(configuration)
        return extended
    }
}

extension BertSequenceClassifier {
    /// Copies the BERT folder of `initialization` from `archive`, growing the position table when
    /// the run records that it was grown (`extendingPositions`), else as `loadPretrained(from:)`.
    @discardableResult
    public func loadPretrained(
        from archive: any SafetensorsArchive, as initialization: PretrainedInitialization
    ) throws -> BertClassifierLoadReport {
        guard initialization.bert != nil else {
            throw initialization.wrongFamily("BERT classifier")
        }
        if let method = initialization.positionExtension,
            let trainedPositions = initialization.trainedPositions
        {
            return try loadPretrained(
                from: archive, trainedPositions: trainedPositions, extension: method)
        }
        return try loadPretrained(from: archive)
    }

    /// Copies a checkpoint whose position table has `trainedPositions` rows into this model,
    /// whose table is longer, growing the table by `method`; otherwise as `loadPretrained(from:)`
    /// (strict about every other tensor, a new pooler when absent, a classifier of the right
    /// shape loaded).
    @discardableResult
    public func loadPretrained(
        from archive: any SafetensorsArchive, trainedPositions: Int,
        extension method: PositionExtension
    ) throws -> BertClassifierLoadReport {
        var configuration = bert.configuration
        configuration.maximumPositions = trainedPositions
        // The folder's own shape with full attention (no mechanism parameters): the strict load.
        let trained = try BertSequenceClassifier(
            configuration, classCount: classCount, segmentSeparatorID: segmentSeparatorID)
        let report = try trained.loadPretrained(from: archive)
        var fresh: Set<String> = []  // this model's own initial values stay
        if report.newPooler {
            fresh.formUnion(["bert.pooler.dense.weight", "bert.pooler.dense.bias"])
        }
        if !report.loadedClassifier { fresh.formUnion(["classifier.weight", "classifier.bias"]) }
        let keptInitial = Bert.copyParameters(
            from: trained.namedParameters().filter { !fresh.contains($0.0) },
            into: namedParameters(), positionTable: "bert." + Bert.positionTableName,
            extension: method)
        let mechanismParameters = keptInitial.filter { !fresh.contains($0) }.map {
            String($0.dropFirst("bert.".count))
        }
        let encoder = BertLoadReport(
            file: report.encoder.file, skipped: report.encoder.skipped,
            keptInitial: mechanismParameters.sorted(), converted: report.encoder.converted)
        return BertClassifierLoadReport(
            encoder: encoder, newPooler: report.newPooler,
            loadedClassifier: report.loadedClassifier)
    }
}
