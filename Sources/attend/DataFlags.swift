// `attend train --data …`: the flags that describe a user's data set, turned into the data
// configuration saved with the run, and the training configuration for it (the preset's model and
// optimisation, sized to the data). The run prints what it read: split sizes, skipped records,
// label counts, lengths and how many examples --seq-len cuts.
import AttendData
import AttendModels
import AttendTrain
import Foundation

/// Options of `attend train` that describe the data.
struct DataOptions: OptionGroup {
    let path = Option.string(
        "data", "FILE|DIR",
        "train on your own data: JSON lines, CSV, TSV, text, a folder of class folders of "
            + "images, or IDX (see docs/data.md)")
    let format = Option<DataFormat>.cases(
        "format", "NAME",
        "\(DataFormat.allCases.map(\.rawValue).joined(separator: ", ")) "
            + "(default: from the extension; a folder is images)")
    let validation = Option.string(
        "validation", "FILE", "validation data (default: --validation-fraction of --data)")
    /// Parsed as a Double: a Float's 0.1 is 0.100000001, which would hold out 2 of 10.
    let validationFraction = DefaultedOption(
        Option<Double>(
            "validation-fraction", "F", "share of --data held out for validation, chosen by --seed"
        ) { text, context in
            guard let f = Double(text), f >= 0 && f < 1 else {
                throw context.error("must be a number in [0, 1), got \(text)")
            }
            return f
        },
        default: "0.1")
    let test = Option.string("test", "FILE", "test data (default: none)")
    let textField = Option.string(
        "text-field", "NAME", "field or column of the text (default text; text_a with pairs)")
    let pairField = Option.string(
        "pair-field", "NAME",
        "field or column of a second text: pair classification, two-tower model")
    let labelField = DefaultedOption(
        .string("label-field", "NAME", "field or column of the label"), default: "label")
    let tokenizer = DefaultedOption(
        .choice(
            "tokenizer", "NAME",
            "how texts become tokens: \(TokenizerConfiguration.kinds.joined(separator: ", "))",
            from: TokenizerConfiguration.kinds),
        default: "bytes")
    let skipBadLines = Flag(
        "skip-bad-lines",
        "skip malformed records and report how many, instead of stopping at the first")
}

enum DataFlags {
    /// The data configuration the flags describe, or nil without `--data`.
    static func configuration(from arguments: ParsedArguments<TrainOptions>) throws
        -> UserDataConfiguration?
    {
        guard let path = try arguments[\.data.path] else { return nil }
        let command = "attend \(arguments.command)"
        guard try arguments[\.task] == nil else {
            throw UsageError("\(command): give --task or --data, not both")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw UsageError("\(command): --data \(path) does not exist")
        }
        let format: DataFormat
        if let name = try arguments[\.data.format] {
            format = name
        } else if let inferred = DataFormat.inferred(from: path, isDirectory: isDirectory.boolValue)
        {
            format = inferred
        } else {
            throw UsageError(
                "\(command): cannot tell the format of \(path) from its name; pass --format "
                    + DataFormat.allCases.map(\.rawValue).joined(separator: "|"))
        }
        var data = UserDataConfiguration(format: format, train: absolute(path))
        data.validation = try arguments[\.data.validation].map(absolute)
        data.test = try arguments[\.data.test].map(absolute)
        data.validationFraction = try arguments[\.data.validationFraction]
        let pair = try arguments[\.data.pairField]
        data.fields = FieldNames(
            text: try arguments[\.data.textField] ?? (pair == nil ? "text" : "text_a"), pair: pair,
            label: try arguments[\.data.labelField])
        if try format.hasFields && arguments[\.data.textField] == nil && pair == nil,
            let names = FieldNames.firstRecordFields(of: path, format: format),
            !names.contains("text"), names.contains("text_a"), names.contains("text_b")
        {
            data.fields = FieldNames(text: "text_a", pair: "text_b", label: data.fields.label)
        }
        data.tokenizer = TokenizerConfiguration(kind: try arguments[\.data.tokenizer])
        data.skipBadLines = arguments[\.data.skipBadLines]
        data.seed = try arguments[\.seed] ?? 0
        if format == .text { data.windowLength = try arguments[\.seqLen] ?? 256 }
        return data
    }

    /// The training configuration for `data` at the preset the flags name; prints what was read.
    static func trainingConfiguration(
        _ data: UserDataConfiguration, _ arguments: ParsedArguments<TrainOptions>
    )
        throws
        -> TrainingConfiguration
    {
        let preset = TaskPreset(rawValue: try arguments[\.preset])!
        let task = try UserData.make(data)
        var configuration = TrainingPresets.configuration(
            task: task, mixer: "full", preset: preset, seed: data.seed)
        configuration.task = task.name
        configuration.taskOptions.data = task.resolvedConfiguration
        // Long documents are cut to 512 tokens unless --seq-len says otherwise; images and language
        // modelling windows keep their whole length.
        let longest = task is UserTextTask ? Swift.min(task.maxLength, 512) : task.maxLength
        configuration.model.maximumLength = try arguments[\.seqLen] ?? longest
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
