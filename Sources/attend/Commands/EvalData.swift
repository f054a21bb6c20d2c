// `attend eval --run DIR --data FILE`: a run trained on a user's data, scored on another labelled
// file read the same way (format, fields, tokenizer, longest input): accuracy, macro-F1 and the
// confusion matrix. A label the run was not trained on stops it, naming the file and line.
import AttendCore
import AttendData
import AttendTrain
import Foundation

enum DataEvaluation {
    static func run(_ arguments: ParsedArguments<EvalOptions>) throws {
        let run = try TrainedRun(RunDirectory(path: try arguments.required(\.run)))
        let path = try arguments.required(\.data)
        let task = try UserData.make(run.data, reading: DataFlags.absolute(path), labelled: true)
        var labels: [Int] = []
        var predictions: [Int] = []
        try Predictor.predict(
            run.model, task: task,
            batchSize: try arguments[\.batch] ?? run.configuration.batchSize,
            maximumLength: run.configuration.model.maximumLength
        ) { batchPredictions, batch in
            labels += batch.labels.values
            predictions += batchPredictions.map(\.label)
        }
        let report = ClassificationReport(
            labels: labels, predictions: predictions, classCount: task.classCount)
        print(
            String(
                format: "%@: accuracy %.4f, macro-F1 %.4f over %d examples", path, report.accuracy,
                report.macroF1, report.count))
        let names = task.classNames
        let rows = names.indices.map { t in [names[t]] + report.confusion[t].map(String.init) }
        print("\nconfusion matrix (rows: true label, columns: predicted)")
        print(TextTable(header: ["true \\ predicted"] + names, rows: rows).rendered)
    }
}
