// `attend predict`: a run trained on a user's data applied to new inputs — a file read as the
// training data was, or texts given on the command line — writing one JSON line per input with
// the predicted label and every class's probability (and the pooled embedding with
// --embeddings), in batches, with the run's tokenizer and longest input.
import AttendCore
import AttendData
import AttendTrain
import Foundation

/// The options of `attend predict`.
struct PredictOptions: OptionGroup {
    let run = Option.string("run", "DIR", "run directory written by `attend train --data …`")
    let data = Option.string(
        "data", "FILE|DIR", "inputs in the run's data format (labels, if present, are ignored)")
    let embeddings = Flag("embeddings", "add the pooled encoder output of each input")
    let batch = Option.positiveInt("batch", "N", "inputs per batch (default: the run's batch size)")
    let out = Option.string("out", "FILE", "write the JSON lines here instead of standard output")
    let threads = Option.positiveInt("threads", "N", "threads (default: all cores)")
}

enum PredictCommand: Command {
    static let spec = CommandSpec(
        name: "predict", summary: "predict labels for new data with a run trained on --data",
        usage: "predict --run DIR [--data FILE | TEXT …]",
        positionals: "TEXT …  texts to classify (instead of --data)")

    static func run(_ arguments: ParsedArguments<PredictOptions>) throws {
        if let threads = try arguments[\.threads] { Parallel.setThreadCount(threads) }
        let run = try TrainedRun(RunDirectory(path: try arguments.required(\.run)))
        let task: any SequenceTask
        if let path = try arguments[\.data] {
            guard arguments.positional.isEmpty else {
                throw UsageError("attend predict: give --data or texts, not both")
            }
            task = try UserData.make(run.data, reading: DataFlags.absolute(path), labelled: false)
        } else {
            guard !arguments.positional.isEmpty else {
                throw UsageError("attend predict: give --data FILE or texts to classify")
            }
            guard run.data.kind == .classification && run.data.format.hasFields else {
                throw UsageError(
                    "attend predict: this run reads \(run.data.format.rawValue) "
                        + (run.data.kind == .pairClassification ? "pairs" : "data")
                        + "; pass its inputs with --data")
            }
            let tokenizer = try run.data.tokenizer.make()
            let examples = arguments.positional.map {
                Example(tokens: tokenizer.encode($0), label: 0)
            }
            task = ExampleList(
                examples, kind: .classification, vocabularySize: tokenizer.vocabularySize,
                classCount: run.configuration.model.classCount)
        }
        let names = run.data.labels ?? []
        let output = try JSONLinesOutput(path: try arguments[\.out])
        var index = 0
        try Predictor.predict(
            run.model, task: task,
            batchSize: try arguments[\.batch] ?? run.configuration.batchSize,
            maximumLength: run.configuration.model.maximumLength,
            embeddings: arguments[\.embeddings]
        ) { predictions, _ in
            for prediction in predictions {
                var record: [String: Any] = [
                    "index": index, "label": names[prediction.label],
                    "probabilities": Dictionary(
                        uniqueKeysWithValues: zip(
                            names, prediction.probabilities.map(Double.init))),
                ]
                if let embedding = prediction.embedding {
                    record["embedding"] = embedding.map(Double.init)
                }
                try output.write(record)
                index += 1
            }
        }
    }
}

/// JSON objects, one per line, to a file or standard output.
struct JSONLinesOutput {
    let handle: FileHandle

    /// Output to `path` (created or truncated), or standard output when nil.
    init(path: String?) throws {
        guard let path else {
            handle = .standardOutput
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw UsageError("attend predict: cannot write --out \(path)") }
        self.handle = handle
    }

    func write(_ record: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        handle.write(data + Data("\n".utf8))
    }
}
