// Helpers shared by the data tests: gating on installed data sets, temporary folders, and a small
// in-memory task for batching tests.
import AttendData
import Foundation
import Testing

enum TestData {
    /// `ATTEND_SKIP_DATA=1` lets tests that need installed data sets skip when the data are
    /// missing; by default they run and fail with the loader's "how to get it" message.
    static var skipsMissingData: Bool {
        ProcessInfo.processInfo.environment["ATTEND_SKIP_DATA"] == "1"
    }

    /// False only when skipping is allowed and one of `files` is missing (for `.enabled(if:)`).
    static func available(_ files: [DataFile]) -> Bool {
        !skipsMissingData || files.allSatisfy { DataFiles().contains($0) }
    }

    /// Whether the data that task `name` reads may be used.
    static func available(task name: String) -> Bool { available(TaskCatalog.files(of: name)) }

    static let skipNote: Comment =
        "needs the installed data sets (`make setup`); skipped because ATTEND_SKIP_DATA=1"
}

/// A fresh empty folder, removed when `body` returns.
func withTemporaryFolder<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("attend-data-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Bytes from a hex string.
func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// A task with hand-made examples, for testing batching alone.
struct FixedTask: SequenceTask {
    var kind: TaskKind = .classification
    var examples: [Split: [Example]]
    var name: String { "fixed" }
    var vocabularySize: Int { 10 }
    var classCount: Int { kind == .languageModel ? 10 : 3 }
    var maxLength: Int {
        examples.values.flatMap { $0 }.map { max($0.tokens.count, $0.pairTokens?.count ?? 0) }
            .max() ?? 0
    }
    var seed: UInt64 { 42 }
    func count(of split: Split) -> Int { examples[split]?.count ?? 0 }
    func example(_ index: Int, in split: Split) -> Example { examples[split]![index] }

    /// Classification examples of lengths 1…n cycling, tokens 1…9, labels i mod 3.
    static func classification(count: Int, longest: Int = 7) -> FixedTask {
        func make(_ n: Int, offset: Int) -> [Example] {
            (0..<n).map { i in
                let length = 1 + (i + offset) % longest
                return Example(tokens: (0..<length).map { 1 + ($0 + i) % 9 }, label: i % 3)
            }
        }
        return FixedTask(examples: [
            .train: make(count, offset: 0), .validation: make(5, offset: 3),
            .test: make(4, offset: 1),
        ])
    }
}
