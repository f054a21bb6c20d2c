// `attend pretrain`: self-pretraining. Trains a task's encoder to reconstruct masked tokens of the
// task's own training inputs (labels unused), with `attend train`'s presets, flags, trainer,
// checkpoints, resume and MPI; `attend train --init-from DIR` then fine-tunes from the encoder.
import AttendData
import AttendTrain
import Foundation

/// The options of `attend pretrain`: the masking, then `attend train`'s but for a few.
struct PretrainOptions: OptionGroup {
    /// `attend train`'s options that make no sense for pretraining (fine-tuning, the ViT).
    static let excluded: Set = [
        "init-from", "freeze-encoder", "extend-positions", "architecture", "patch",
    ]

    let maskRate = Option.float(
        "mask-rate", "R",
        "expected fraction of positions hidden (default 0.15; 0.5 for image tasks)")
    let maskSpan = DefaultedOption(
        .positiveInt("mask-span", "L", "hide contiguous spans of L tokens"), default: "1")
    let maskPatch = Option.positiveInt(
        "mask-patch", "K", "hide K×K squares of image inputs (n positions = side²)")
    let train = TrainOptions()
}

enum PretrainCommand: Command {
    static let spec = CommandSpec(
        name: "pretrain",
        summary: "self-pretrain a task's encoder on its own inputs (masked tokens)",
        usage: "pretrain --task NAME --mixer NAME [--mask-rate R] [--mask-span L | --mask-patch K] "
            + "[options] --out runs/NAME",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<PretrainOptions>) throws {
        try TrainCommand.run(arguments.group(\.train)) { _ in try configuration(from: arguments) }
    }

    /// `attend train`'s configuration for the same flags, turned into its pretraining run.
    static func configuration(from arguments: ParsedArguments<PretrainOptions>) throws
        -> TrainingConfiguration
    {
        let base = try TrainingFlags.configuration(from: arguments.group(\.train))
        let task = try TaskCatalog.make(base.task, options: base.taskOptions)
        let rate =
            try arguments[\.maskRate].map(Double.init)
            ?? Pretraining.defaultMaskRate(for: task)
        let masking = MaskingOptions(
            rate: rate, span: try arguments[\.maskSpan],
            patch: try arguments[\.maskPatch] ?? 0)
        do {
            return try Pretraining.configuration(from: base, masking: masking)
        } catch let error as DataError {
            throw UsageError("attend pretrain: \(error)")
        }
    }
}
