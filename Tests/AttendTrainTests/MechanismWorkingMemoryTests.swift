// Every registered mechanism's declared working memory (`Mechanism.workingMemory`) against the
// peak tensor bytes of a forward and backward pass, measured by `attend bench attention` at small
// sizes, bidirectional and (where the mechanism has a causal form) causal, with the default
// options and with options that materialise what the defaults avoid (reference paths' n × n maps,
// small windows and blocks, the tree's branches): the estimate must be an upper bound and at most
// `WorkingMemory.tightness` times the measurement. Through the executable,
// because the peak is process-wide and other tests in this process allocate at the same time. A
// new mechanism is covered by its registry entry alone. Also: a length whose estimate exceeds the
// memory available is refused with one line, before anything is allocated.
import AttendAttention
import AttendTesting
import Foundation
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct MechanismWorkingMemoryTests {
    /// Two lengths, so an estimate's growth in n is checked as well as its size: 48, where the
    /// defaults' windows, blocks, chunks and leaves cover the whole sequence, and 800, past
    /// BigBird's full-attention threshold (704, with a padded last block), Local's window, FLASH's
    /// chunk and Treeformer's leaf.
    static let (batch, heads, headDimension, lengths) = (2, 2, 8, [48, 800])

    /// One section per mechanism (each reads its own): the paths and sizes the defaults do not
    /// take.
    static let materialisingOptions = """
        {"full": {"path": "reference"}, "local": {"window_size": 16},
         "bigbird": {"block_size": 8, "random_block_count": 1},
         "linformer": {"projected_length": 32, "share_heads": false},
         "performer": {"feature_count": 32}, "long_short": {"segment_size": 4, "landmark_count": 8},
         "flash": {"path": "reference", "chunk_size": 32}, "deberta": {"path": "reference"},
         "mgk": {"path": "reference", "components": 3}, "hypercube": {"path": "reference"},
         "treeformer": {"leaf_size": 16, "coarse_weight": 0.5},
         "spade": {"combine": "add", "attention": "full"},
         "evolving": {"base": "local", "window_size": 16}}
        """

    struct Row: Decodable {
        let mixer: String, length: Int, causal: Bool, peakExtraMiB: Double
    }

    /// The rows of one `attend bench attention --backward` over every mechanism.
    func measured(causal: Bool, options: String?) throws -> [Row] {
        guard let attend = requireAttendExecutable() else { return [] }
        let json = NSTemporaryDirectory() + "attend-working-memory-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: json) }
        let s = Self.self
        let result = try runCommand(
            attend,
            [
                "bench", "attention", "--backward", "--runs", "1", "--threads", "1",
                "--batch", "\(s.batch)", "--heads", "\(s.heads)", "--head-dim",
                "\(s.headDimension)", "--lengths",
                s.lengths.map(String.init).joined(separator: ","),
                "--json", json,
            ] + (causal ? ["--causal"] : []) + (options.map { ["--mixer-options", $0] } ?? []),
            limit: 300)
        try #require(result.status == 0, "\(result.output)")
        return try JSONDecoder().decode(
            [Row].self, from: Data(contentsOf: URL(fileURLWithPath: json)))
    }

    /// `--mixer-options` as a configuration (the shape fields are the benchmark's own).
    func decoded(_ json: String) throws -> MixerConfiguration {
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["model_dimension", "head_count", "maximum_length"] { object[key] = 0 }
        return try JSONDecoder().decode(
            MixerConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test(arguments: [false, true], [false, true])
    func estimatesBoundTheMeasuredPeakWithinTheirTightness(causal: Bool, materialising: Bool)
        throws
    {
        let s = Self.self
        let options = materialising ? s.materialisingOptions : nil
        let rows = try measured(causal: causal, options: options)
        let base = try options.map(decoded)
        for mechanism in Mechanisms.all where mechanism.capabilities.supportsCausal || !causal {
            for n in s.lengths {
                let row = rows.first { $0.mixer == mechanism.name && $0.length == n }
                guard let row else {
                    Issue.record("no measurement of \(mechanism.name) at n = \(n)")
                    continue
                }
                var configuration =
                    base ?? MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
                configuration.modelDimension = s.heads * s.headDimension
                configuration.headCount = s.heads
                configuration.maximumLength = n
                configuration.seed = 1
                let estimate = mechanism.workingMemory(
                    configuration, PassSize(batch: s.batch, length: n, causal: causal))
                let peak = row.peakExtraMiB * 1_048_576
                let label =
                    "\(mechanism.name) n=\(n)\(causal ? " causal" : "")"
                    + "\(materialising ? " (materialising options)" : ""): estimate "
                    + "\(Int(estimate)) B, measured \(Int(peak)) B"
                #expect(peak > 0, "\(label)")
                #expect(estimate >= peak, "the estimate must bound the peak: \(label)")
                #expect(
                    estimate <= WorkingMemory.tightness * peak,
                    "at most \(WorkingMemory.tightness)× the peak: \(label)")
            }
        }
    }

    @Test func aLengthWhoseEstimateDoesNotFitIsRefusedInOneLine() throws {
        guard let attend = requireAttendExecutable() else { return }
        // Performer's 256 random features per head dwarf a one-dimensional head: its inputs
        // (1.6 GB) fit where its features (hundreds of GB) do not.
        let result = try runCommand(
            attend,
            [
                "bench", "attention", "--mixers", "performer", "--heads", "1", "--head-dim", "1",
                "--lengths", "100000000",
            ], limit: 60)
        #expect(result.status == 2, "\(result.output)")
        let line = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n"), "one line: \(line)")
        #expect(
            line.contains("performer at length 100000000 needs about")
                && line.contains("of working memory") && line.contains("available")
                && line.contains("leave performer out of --mixers"), "\(line)")
    }

    @Test func aModelWhoseLayersCannotFitIsRefusedBeforeItsDryPass() throws {
        guard let attend = requireAttendExecutable() else { return }
        let folder = NSTemporaryDirectory() + "attend-working-memory-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 512 layers of 65,536 random features per head: over 100 GB for the two examples of the
        // dry pass. The address space is limited as well, so that a check that let the pass run
        // would fail here instead of filling the machine's memory (not under a sanitizer, whose
        // shadow memory needs terabytes of address space; `make sanitize` sets ATTEND_SANITIZER).
        let sanitized = ProcessInfo.processInfo.environment["ATTEND_SANITIZER"] != nil
        let script =
            (sanitized ? "" : "ulimit -v \(4 << 20) && ") + "exec '\(attend)' train --task listops "
            + "--preset tiny --steps 1 --mixer performer --layers 512 --mixer-options "
            + "'{\"performer\": {\"feature_count\": 65536}}' --out '\(folder)'"
        let result = try runCommand("/bin/sh", ["-c", script], limit: 60)
        #expect(result.status == 1, "\(result.output)")
        let line = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n"), "one line: \(line)")
        #expect(
            line.contains("the 512 layers of mixer performer need about")
                && line.contains("of working memory (their declared estimate) for two examples"),
            "\(line)")
    }
}
