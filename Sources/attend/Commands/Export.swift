// `attend export`: a run fine-tuned with `attend train --init-from` as a Hugging Face model folder
// (config.json with the labels, model.safetensors with transformers' names, the tokenizer).
import AttendTrain
import Foundation

enum ExportCommand: Command {
    static let spec = CommandSpec(
        name: "export", summary: "write a fine-tuned run as a Hugging Face model folder",
        usage: "export --run DIR --out DIR2",
        options: [
            .option("run", "DIR", "run directory of `attend train --init-from …`"),
            .option(
                "out", "DIR2", "folder to write: config.json, model.safetensors, tokenizer files"),
        ],
        positionals: nil)

    static func run(_ arguments: ParsedArguments) throws {
        let run = RunDirectory(path: try arguments.requiredString("run"))
        let out = try arguments.requiredString("out")
        let files = try HuggingFaceExport.write(run: run, to: out)
        print("exported \(run.path) to \(out): \(files.joined(separator: ", "))")
    }
}
