// `attend export`: a run fine-tuned with `attend train --init-from` as a Hugging Face model folder
// (config.json with the labels, model.safetensors with transformers' names, the tokenizer).
import AttendTrain
import Foundation

/// The options of `attend export`.
struct ExportOptions: OptionGroup {
    let run = Option.string("run", "DIR", "run directory of `attend train --init-from …`")
    let out = Option.string(
        "out", "DIR2", "folder to write: config.json, model.safetensors, tokenizer files")
}

enum ExportCommand: Command {
    static let spec = CommandSpec(
        name: "export", summary: "write a fine-tuned run as a Hugging Face model folder",
        usage: "export --run DIR --out DIR2", positionals: nil)

    static func run(_ arguments: ParsedArguments<ExportOptions>) throws {
        let run = RunDirectory(path: try arguments.required(\.run))
        let out = try arguments.required(\.out)
        let files = try HuggingFaceExport.write(run: run, to: out)
        print("exported \(run.path) to \(out): \(files.joined(separator: ", "))")
    }
}
