// `attend train --data …`: the flags that describe a user's data set, turned into the data
// configuration saved with the run, and the training configuration for it (the preset's model and
// optimisation, sized to the data). The run prints what it read: split sizes, skipped records,
// label counts, lengths and how many examples --seq-len cuts.
import AttendData
import AttendModels
import AttendTrain
import Foundation

enum DataFlags {
    /// Options of `attend train` that describe the data.
    static let trainOptions: [OptionSpec] = [
        .option(
            "data", "FILE|DIR",
            "train on your own data: JSON lines, CSV, TSV, text, a folder of class folders of "
                + "images, or IDX (see docs/data.md)"),
        .option(
            "format", "NAME",
            "\(DataFormat.allCases.map(\.rawValue).joined(separator: ", ")) "
                + "(default: from the extension; a folder is images)"),
        .option("validation", "FILE", "validation data (default: --validation-fraction of --data)"),
        .option(
            "validation-fraction", "F", "share of --data held out for validation, chosen by --seed",
            default: "0.1"),
        .option("test", "FILE", "test data (default: none)"),
        .option(
            "text-field", "NAME", "field or column of the text (default text; text_a with pairs)"),
        .option(
            "pair-field", "NAME",
            "field or column of a second text: pair classification, two-tower model"),
        .option("label-field", "NAME", "field or column of the label", default: "label"),
        .option(
            "tokenizer", "NAME",
            "how texts become tokens: \(TokenizerConfiguration.kinds.joined(separator: ", "))",
            default: "bytes"),
        .flag(
            "skip-bad-lines",
            "skip malformed records and report how many, instead of stopping at the first"),
    ]

    /// The data configuration the flags describe, or nil without `--data`.
    static func configuration(from arguments: ParsedArguments) throws -> UserDataConfiguration? {
        guard let path = arguments.string("data") else { return nil }
        let command = "attend \(arguments.command)"
        guard arguments.string("task") == nil else {
            throw UsageError("\(command): give --task or --data, not both")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw UsageError("\(command): --data \(path) does not exist")
        }
        let format: DataFormat
        if let name = try arguments.choice("format", from: DataFormat.allCases.map(\.rawValue)) {
            format = DataFormat(rawValue: name)!
        } else if let inferred = DataFormat.inferred(from: path, isDirectory: isDirectory.boolValue)
        {
            format = inferred
        } else {
            throw UsageError(
                "\(command): cannot tell the format of \(path) from its name; pass --format "
                    + DataFormat.allCases.map(\.rawValue).joined(separator: "|"))
        }
        var data = UserDataConfiguration(format: format, train: absolute(path))
        data.validation = arguments.string("validation").map(absolute)
        data.test = arguments.string("test").map(absolute)
        if let text = arguments.string("validation-fraction") {
            // Parsed as a Double: a Float's 0.1 is 0.100000001, which would hold out 2 of 10.
            guard let f = Double(text), f >= 0 && f < 1 else {
                throw UsageError(
                    "\(command): --validation-fraction must be a number in [0, 1), got \(text)")
            }
            data.validationFraction = f
        }
        let pair = arguments.string("pair-field")
        data.fields = FieldNames(
            text: arguments.string("text-field") ?? (pair == nil ? "text" : "text_a"), pair: pair,
            label: arguments.string("label-field") ?? "label")
        if format.hasFields && arguments.string("text-field") == nil && pair == nil,
            let names = FieldNames.firstRecordFields(of: path, format: format),
            !names.contains("text"), names.contains("text_a"), names.contains("text_b")
        {
            data.fields = FieldNames(text: "text_a", pair: "text_b", label: data.fields.label)
        }
        let tokenizer =
            try arguments.choice("tokenizer", from: TokenizerConfiguration.kinds) ?? "bytes"
        data.tokenizer = TokenizerConfiguration(kind: tokenizer)
        data.skipBadLines = arguments.flag("skip-bad-lines")
        data.seed = UInt64(try arguments.int("seed") ?? 0)
        if format == .text { data.windowLength = try arguments.positiveInt("seq-len") ?? 256 }
        return data
    }

    /// The training configuration for `data` at the preset the flags name; prints what was read.
    static func trainingConfiguration(_ data: UserDataConfiguration, _ arguments: ParsedArguments)
        throws
        -> TrainingConfiguration
    {
        let preset = TaskPreset(
            rawValue: try arguments.choice("preset", from: TrainingPresets.names) ?? "cpu")!
        let task = try UserData.make(data)
        var configuration = TrainingPresets.configuration(
            task: task, mixer: "full", preset: preset, seed: data.seed)
        configuration.task = task.name
        configuration.taskOptions.data = task.resolvedConfiguration
        // Long documents are cut to 512 tokens unless --seq-len says otherwise; images and language
        // modelling windows keep their whole length.
        let longest = task is UserTextTask ? Swift.min(task.maxLength, 512) : task.maxLength
        configuration.model.maximumLength = try arguments.positiveInt("seq-len") ?? longest
        if let images = task as? UserImageTask {
            configuration.model.imageChannels = images.channels
        }
        for line in task.summary.report(maximumLength: configuration.model.maximumLength) {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        return configuration
    }

    /// `path` made absolute, so a run directory's configuration works from any folder.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
