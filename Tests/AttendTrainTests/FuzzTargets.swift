import AttendTrain
import Foundation

// Every parser of outside bytes, by fuzz-target name: what the libFuzzer binaries of Fuzz/Targets
// run on each input (`make fuzz` compiles this file into them) and what FuzzRegressionTests
// replays the committed seeds and crash inputs through. A parser may refuse its input with an
// error; a trap, a sanitizer report, a hang or an out-of-memory is a finding. Adding a target: one
// entry here and one file in Fuzz/Targets naming it.
@testable import AttendCore
@testable import AttendData

enum FuzzTargets {
    /// Target name → the parser(s) it drives.
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "safetensors": { safetensors($0) },
        "json": { _ = try? JSONValue.parse($0) },
        "configuration": { configuration($0) },
        "wordpiece-vocab": { wordPieceVocabulary($0) },
        "tokenizer-json": { tokenizerJSON($0) },
        "spm": { sentencePieceModel($0) },
        "gzip": { _ = try? Gzip.decompress($0) },
        "dictzip": { dictzip($0) },
        "inflate": { inflate($0) },
        "tar": { _ = try? Tar.files($0) },
        "idx": { _ = try? IDXArray($0, dimensions: $0.count >= 4 ? Int($0[3]) : 1) },
        "pgm": { _ = try? PGM.decode($0) },
        "png": { _ = try? PNG.decode($0) },
        "jsonl": { labelledTexts($0, format: .jsonl) },
        "csv": { labelledTexts($0, format: .csv) },
    ]

    /// Runs target `name` on libFuzzer's input; always 0 (libFuzzer's "keep going").
    static func run(_ name: String, _ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        all[name]!(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    }

    /// Header, then every tensor decoded.
    private static func safetensors(_ bytes: [UInt8]) {
        guard let file = try? SafetensorsFile(contents: bytes, path: "fuzz.safetensors") else {
            return
        }
        for name in file.names { _ = try? file.tensor(name) }
    }

    /// A --config file: decoding (with the plain error words) and the range checks.
    private static func configuration(_ bytes: [UInt8]) {
        do {
            try JSONDecoder().decode(TrainingConfiguration.self, from: Data(bytes)).validate()
        } catch let error as DecodingError {
            _ = error.plainDescription
        } catch {}
    }

    /// Text the loaded tokenizers split: punctuation, accents, CJK, a long word, an unknown one.
    private static let sample =
        "Hello, wörld! unaffable 東京 \u{301}x " + String(repeating: "a", count: 120)

    private static func wordPieceVocabulary(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self),
            let tokenizer = try? WordPieceTokenizer(vocabularyText: text)
        else { return }
        _ = try? tokenizer.encode(sample, maximumLength: 64)
    }

    private static func tokenizerJSON(_ bytes: [UInt8]) {
        guard let tokenizer = try? WordPieceTokenizer(tokenizerJSON: Data(bytes), path: "fuzz.json")
        else { return }
        _ = try? tokenizer.encode(sample, maximumLength: 64)
    }

    /// A SentencePiece model file: the vocabulary and normalisation table, then a segmentation.
    private static func sentencePieceModel(_ bytes: [UInt8]) {
        guard let model = try? SentencePieceModel(bytes: bytes, path: "fuzz.model"),
            let tokenizer = try? SentencePieceTokenizer(model: model, path: "fuzz.model")
        else { return }
        _ = tokenizer.pieceIDs(sample)
    }

    /// The chunk table, then the first chunks inflated on their own.
    private static func dictzip(_ bytes: [UInt8]) {
        guard let layout = try? Gzip.dictzipLayout(bytes) else { return }
        _ = try? Gzip.dictzipChunks(bytes, Array(0..<Swift.min(layout.count, 4)))
    }

    /// A file of labelled texts as `attend train --data` reads it: the record index, the header,
    /// every record's fields and label, then the first examples read back and tokenised.
    private static func labelledTexts(_ bytes: [UInt8], format: DataFormat) {
        let path = NSTemporaryDirectory() + "attend-fuzz-\(getpid()).\(format.rawValue)"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = UserDataConfiguration(format: format, train: path)
        configuration.validationFraction = 0
        guard let task = try? UserData.make(configuration, reading: path, labelled: true) else {
            return
        }
        for index in 0..<Swift.min(task.count(of: .train), 8) {
            _ = task.example(index, in: .train)
        }
    }

    /// A raw DEFLATE stream.
    private static func inflate(_ bytes: [UInt8]) {
        var output: [UInt8] = []
        _ = bytes.withUnsafeBufferPointer { try? Inflate.decode($0, from: 0, appendingTo: &output) }
    }
}
