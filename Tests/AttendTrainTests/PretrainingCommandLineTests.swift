// `attend pretrain` and `attend train --init-from RUN` as a user runs them: a tiny ListOps
// pretraining, then a classifier started from its encoder; `attend lra --pretrain-steps` recording
// both stages; a folder that is neither a run nor a model folder, patches on inputs that are not
// square, and language modelling are one-line errors.
import AttendTesting
import Foundation
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct PretrainingCommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: 120)
    }

    @Test func pretrainThenTrainFromTheEncoder() throws {
        let out = NSTemporaryDirectory() + "attend-cli-pretrain-\(UUID().uuidString)"
        let tuned = out + "-tuned"
        defer { for path in [out, tuned] { try? FileManager.default.removeItem(atPath: path) } }
        let pretrain = try run([
            "pretrain", "--task", "listops", "--preset", "tiny", "--steps", "3", "--mask-span", "2",
            "--out", out,
        ])
        #expect(pretrain.status == 0 && pretrain.output.contains("tokens)"), "\(pretrain.output)")
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        #expect(config.contains(#""masking""#) && config.contains(#""span" : 2"#), "\(config)")
        let train = try run([
            "train", "--task", "listops", "--preset", "tiny", "--steps", "2", "--init-from", out,
            "--out", tuned,
        ])
        #expect(train.status == 0 && train.output.contains("encoder ("), "\(train.output)")
        let tunedConfig = try String(contentsOfFile: tuned + "/config.json", encoding: .utf8)
        #expect(tunedConfig.contains(#""encoder_from""#) && !tunedConfig.contains(#""masking""#))
        let wider = try run([
            "train", "--task", "listops", "--preset", "tiny", "--steps", "1", "--dim", "16",
            "--init-from", out, "--out", tuned + "-wider",
        ])
        defer { try? FileManager.default.removeItem(atPath: tuned + "-wider") }
        #expect(
            wider.status != 0 && wider.output.contains("encoder.token_embedding.weight"),
            "\(wider.output)")
    }

    @Test func lraPretrainsEachPairAndRecordsIt() throws {
        let out = NSTemporaryDirectory() + "attend-cli-lra-pretrain-\(UUID().uuidString)"
        defer {
            for suffix in [".md", ".json", ".svg"] {
                try? FileManager.default.removeItem(atPath: out + suffix)
            }
        }
        let common = [
            "lra", "--mixers", "full", "--tasks", "listops", "--preset", "tiny", "--steps", "2",
        ]
        let lra = try run(common + ["--pretrain-steps", "3", "--out", out + ".md"])
        #expect(lra.status == 0, "\(lra.output)")
        let results = try String(contentsOfFile: out + ".json", encoding: .utf8)
        #expect(
            results.contains(#""pretrainSteps" : 3"#) && results.contains("pretrainSeconds"),
            "\(results)")
        let page = try String(contentsOfFile: out + ".md", encoding: .utf8)
        #expect(page.contains("self-pretrained"), "\(page)")
        let mixed = try run(common + ["--out", out + ".md"])
        #expect(
            mixed.status != 0 && mixed.output.contains("3 pretraining steps"), "\(mixed.output)")
    }

    @Test func impossibleRequestsAreOneLineErrors() throws {
        let out = NSTemporaryDirectory() + "attend-cli-pretrain-refused-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let neither = try run([
            "train", "--task", "listops", "--preset", "tiny", "--init-from", out, "--out", out,
        ])
        #expect(
            neither.status != 0 && neither.output.contains("neither an Attend run"),
            "\(neither.output)")
        let patch = try run([
            "pretrain", "--task", "text", "--preset", "tiny", "--mask-patch", "2", "--out", out,
        ])
        #expect(patch.status != 0 && patch.output.contains("not a square"), "\(patch.output)")
        let causal = try run(["pretrain", "--task", "bytelm", "--preset", "tiny", "--out", out])
        #expect(
            causal.status != 0 && causal.output.contains("classification task"), "\(causal.output)")
    }
}
