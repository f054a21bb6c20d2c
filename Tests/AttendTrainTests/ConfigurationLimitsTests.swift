// Every field of a training configuration has a range, checked alike for flags, --config files and
// a run's config.json: values that used to trap, hang or pass unchecked are refused with one line
// naming the field and what it may hold.
import AttendTrain
import Foundation
import Testing

@Suite struct ConfigurationLimitsTests {
    @Test func presetsAreWithinTheLimits() throws {
        for name in ["listops", "pathfinder"] {
            let (configuration, _) = try tinyConfiguration(name)
            try configuration.validate()
        }
    }

    @Test func valuesOutsideTheirRangeNameTheField() throws {
        let (base, _) = try tinyConfiguration("listops")
        let cases: [(String, (inout TrainingConfiguration) -> Void)] = [
            ("model.dropout", { $0.model.dropout = 2 }),
            ("model.dropout", { $0.model.dropout = .nan }),
            ("batch_size", { $0.batchSize = -3 }),
            ("batch_size", { $0.batchSize = 1_000_000_000_000 }),
            ("learning_rate", { $0.learningRate = -1 }),
            ("model.layer_count", { $0.model.layerCount = 100_000_000 }),
            // Found by the configuration fuzz target: 0...layer_count trapped at -1.
            ("model.layer_count", { $0.model.layerCount = -1 }),
            ("model.head_count", { $0.model.headCount = 3 }),
            ("model.mixer", { $0.model.mixer = "nonesuch" }),
            ("beta2", { $0.beta2 = 1 }),
            ("model.switch.expert_count", { $0.model.switchFeedForward.expertCount = 0 }),
        ]
        for (field, change) in cases {
            var configuration = base
            change(&configuration)
            #expect {
                try configuration.validate()
            } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return error.field == field && !error.expected.isEmpty
                    && !error.description.contains("\n")
            }
        }
    }

    @Test func theTrainerRefusesAnInvalidConfiguration() throws {
        var (configuration, task) = try tinyConfiguration("listops")
        configuration.model.dropout = 2
        #expect(throws: ConfigurationError.self) {
            try Trainer(configuration: configuration, task: task, run: nil)
        }
    }

    @Test func decodingErrorsSayWhatTheFieldHolds() throws {
        let (configuration, _) = try tinyConfiguration("listops")
        var json = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration))
                as? [String: Any])
        json["batch_size"] = "eight"
        let data = try JSONSerialization.data(withJSONObject: json)
        do {
            _ = try JSONDecoder().decode(TrainingConfiguration.self, from: data)
            Issue.record("a string batch size must not decode")
        } catch let error as DecodingError {
            #expect(error.plainDescription == "batch_size must be a whole number")
        }
        json["batch_size"] = nil
        do {
            _ = try JSONDecoder().decode(
                TrainingConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
            Issue.record("a configuration without batch_size must not decode")
        } catch let error as DecodingError {
            #expect(error.plainDescription == "the required field batch_size is missing")
        }
    }
}

/// The command-line face of the limits: each input the reliability probe found is one line and
/// exit status 2, naming the field.
@Suite(.serialized) struct ConfigurationLimitsCommandLineTests {
    func refusal(_ arguments: [String]) throws -> (status: Int32, output: String) {
        guard let attend = requireAttendExecutable() else { return (-1, "") }
        return try runCommand(attend, arguments, limit: 60)
    }

    @Test(arguments: [
        (["--dropout", "2"], "model.dropout (--dropout) is 2.0"),
        (["--batch", "1000000000000"], "batch_size (--batch) is 1000000000000"),
        (["--lr", "-1"], "learning_rate (--lr) is -1.0"),
        (["--layers", "100000000"], "model.layer_count (--layers) is 100000000"),
        (["--heads", "3"], "model.head_count (--heads) is 3"),
        (["--seed", "-1"], "--seed must be 0 or more"),
    ])
    func badFlagsAreOneLineUsageErrors(_ flags: [String], _ message: String) throws {
        let out = NSTemporaryDirectory() + "attend-limits-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try refusal(
            ["train", "--task", "listops", "--preset", "tiny", "--out", out] + flags)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains(message), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
    }

    @Test(arguments: [
        ["--lengths", "64", "--batch", "4096", "--heads", "4096"],
        ["--heads", "100000000"],
        ["--lengths", "100000000"],
    ])
    func benchAttentionRefusesSizesBeyondMemory(_ flags: [String]) throws {
        let result = try refusal(["bench", "attention", "--mixers", "local"] + flags)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("for its inputs, more than the"), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
    }

    @Test func configurationFilesAreCheckedLikeFlags() throws {
        let folder = NSTemporaryDirectory() + "attend-limits-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (configuration, _) = try tinyConfiguration("listops")
        var json = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration))
                as? [String: Any])
        let file = folder + "/config.json"
        for (value, message) in [
            (-3 as Any, "batch_size (--batch) is -3; expected a whole number from 1 to 65536"),
            ("many" as Any, "batch_size must be a whole number"),
        ] {
            json["batch_size"] = value
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
            let result = try refusal(["train", "--config", file, "--out", folder + "/run"])
            #expect(result.status == 2, "\(result.output)")
            #expect(
                result.output.contains(message) && result.output.contains(file), "\(result.output)")
            #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
        }
    }
}

/// Mechanism options (`--mixer-options`, `mixer_options` in a --config file or a run's
/// config.json) are refused alike, naming the mechanism, the option and what it may hold.
@Suite(.serialized) struct MixerOptionLimitsCommandLineTests {
    @Test(arguments: [
        (
            #"{"local": {"window_size": 0}}"#,
            "local.window_size (an option of local) is 0; expected a whole number from 1 to 1048576"
        ),
        (
            #"{"deberta": {"buckets": {"bucketSize": 256, "maxPosition": 129}}}"#,
            "deberta.buckets.maxPosition (an option of deberta) is 129; expected a whole number "
                + "from 130 to 1048576"
        ),
        (#"{"mgk": {"components": -1}}"#, "mgk.components (an option of mgk and mgk-linear) is -1"),
        (#"{"local": {"window_size": "wide"}}"#, "local.window_size must be a whole number"),
        (
            #"{"performer": {"feature_count": 1e40}}"#,
            "not valid JSON, or a number too large for its field"
        ),
        (
            #"{"local": {"windw_size": 8}}"#,
            "unknown option local.windw_size; local holds window_size"
        ),
        (#"{"lcoal": {"window_size": 8}}"#, "unknown option lcoal; mixer_options holds "),
    ])
    func badMixerOptionsAreOneLineUsageErrors(_ json: String, _ message: String) throws {
        let out = NSTemporaryDirectory() + "attend-limits-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try runAttend(
            builtAttendExecutable(),
            ["train", "--task", "listops", "--preset", "tiny", "--steps", "1", "--out", out]
                + ["--mixer-options", json], limit: 60)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("--mixer-options: " + message), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
    }

    @Test func configurationFilesAndRunDirectoriesAreCheckedLikeTheFlag() throws {
        let folder = NSTemporaryDirectory() + "attend-limits-\(UUID().uuidString)"
        let run = folder + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var (configuration, _) = try tinyConfiguration("listops", mixer: "local")
        var options = configuration.model.resolvedMixer
        options.local.windowSize = 0
        configuration.model.mixerOptions = options
        let data = try JSONEncoder().encode(configuration)
        let message =
            "model.mixer_options.local.window_size (--mixer-options, an option of local) is 0; "
            + "expected a whole number from 1 to 1048576"
        try data.write(to: URL(fileURLWithPath: folder + "/config.json"))
        let train = try runAttend(
            builtAttendExecutable(),
            ["train", "--config", folder + "/config.json", "--out", folder + "/out"], limit: 60)
        #expect(train.status == 2 && train.output.contains(message), "\(train.output)")
        try data.write(to: URL(fileURLWithPath: run + "/config.json"))
        let eval = try runAttend(builtAttendExecutable(), ["eval", "--run", run], limit: 60)
        #expect(eval.status == 1 && eval.output.contains(message), "\(eval.output)")
        #expect(eval.output.split(separator: "\n").count == 1, "\(eval.output)")

        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var model = try #require(json["model"] as? [String: Any])
        var mixerOptions = try #require(model["mixer_options"] as? [String: Any])
        mixerOptions["local"] = ["window_size": 8]
        mixerOptions["lcoal"] = ["window_size": 8]
        model["mixer_options"] = mixerOptions
        json["model"] = model
        try JSONSerialization.data(withJSONObject: json)
            .write(to: URL(fileURLWithPath: folder + "/config.json"))
        let typo = try runAttend(
            builtAttendExecutable(),
            ["train", "--config", folder + "/config.json", "--out", folder + "/out"], limit: 60)
        #expect(typo.status == 2, "\(typo.output)")
        #expect(typo.output.contains("model.mixer_options: unknown option lcoal"), "\(typo.output)")
    }
}
