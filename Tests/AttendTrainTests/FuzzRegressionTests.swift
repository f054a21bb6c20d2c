// The fuzz targets' committed inputs replayed without the fuzzer: every seed of Fuzz/Corpus and
// every input that once crashed a parser (Fuzz/Regressions, written there by `make fuzz`) goes
// through the same parser as in the fuzz binary and must come back, with a value or an error.
import Foundation
import Testing

@Suite struct FuzzRegressionTests {
    /// The repository's Fuzz folder.
    static let fuzz = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    /// The files of `folder`/`target`, sorted (none when the folder is absent).
    static func inputs(_ folder: String, _ target: String) -> [URL] {
        let directory = fuzz.appendingPathComponent(folder).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map {
            directory.appendingPathComponent($0)
        }
    }

    @Test func everyTargetFileHasAParserAndASeedCorpus() throws {
        let files = try FileManager.default.contentsOfDirectory(
            atPath: Self.fuzz.appendingPathComponent("Targets").path)
        let targets = Set(files.filter { $0.hasSuffix(".swift") }.map { String($0.dropLast(6)) })
        #expect(targets == Set(FuzzTargets.all.keys))
        for target in targets { #expect(!Self.inputs("Corpus", target).isEmpty, "\(target)") }
    }

    @Test(arguments: FuzzTargets.all.keys.sorted())
    func committedInputsComeBack(_ target: String) throws {
        let parse = try #require(FuzzTargets.all[target])
        for input in Self.inputs("Corpus", target) + Self.inputs("Regressions", target) {
            parse([UInt8](try Data(contentsOf: input)))
        }
    }
}
