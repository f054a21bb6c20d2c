// `attend pretrain`: self-pretraining. Trains a task's encoder to reconstruct masked tokens of the
// task's own training inputs (labels unused), with `attend train`'s presets, flags, trainer,
// checkpoints, resume and MPI; `attend train --init-from DIR` then fine-tunes from the encoder.
import AttendData
import AttendTrain
import Foundation

enum PretrainCommand: Command {
    /// `attend train`'s options that make no sense for pretraining (fine-tuning, the ViT).
    static let trainOnlyOptions: Set = ["init-from", "freeze-encoder", "architecture", "patch"]

    static let spec = CommandSpec(
        name: "pretrain",
        summary: "self-pretrain a task's encoder on its own inputs (masked tokens)",
        usage: "pretrain --task NAME --mixer NAME [--mask-rate R] [--mask-span L | --mask-patch K] "
            + "[options] --out runs/NAME",
        options: [
            .option("mask-rate", "R",
                    "expected fraction of positions hidden (default 0.15; 0.5 for image tasks)"),
            .option("mask-span", "L", "hide contiguous spans of L tokens", default: "1"),
            .option("mask-patch", "K", "hide K×K squares of image inputs (n positions = side²)"),
        ] + TrainCommand.spec.options.filter { !trainOnlyOptions.contains($0.name) },
        positionals: nil)

    static func run(_ arguments: ParsedArguments) throws {
        try TrainCommand.run(arguments, configure: configuration(from:))
    }

    /// `attend train`'s configuration for the same flags, turned into its pretraining run.
    static func configuration(from arguments: ParsedArguments) throws -> TrainingConfiguration {
        let base = try TrainingFlags.configuration(from: arguments)
        let task = try TaskCatalog.make(base.task, options: base.taskOptions)
        let rate = try arguments.float("mask-rate").map(Double.init)
            ?? Pretraining.defaultMaskRate(for: task)
        let masking = MaskingOptions(
            rate: rate, span: try arguments.positiveInt("mask-span") ?? 1,
            patch: try arguments.positiveInt("mask-patch") ?? 0)
        do {
            return try Pretraining.configuration(from: base, masking: masking)
        } catch let error as DataError {
            throw UsageError("attend pretrain: \(error)")
        }
    }
}
