// Safetensors reading and writing: round trips, files written by the Python `safetensors` package
// (Fixtures/dtypes.safetensors, made by scripts/fixtures/core.py), exact half-float widening,
// atomic writes and sharded checkpoints. Malformed input has its own suite below.
import AttendCore
import AttendTesting
import Foundation
import Testing

/// A fresh directory for one test, removed when the value is released.
final class ScratchDirectory {
    let path: String

    init() throws {
        path =
            URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("attend-safetensors-" + UUID().uuidString).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Path of `name` inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    /// Names of the entries in the directory, sorted.
    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}

/// The path of a committed fixture file.
func fixturePath(_ name: String) throws -> String {
    try AttendTesting.fixturePath(name, in: Bundle.module)
}

/// Float bit patterns, so that NaN, -0 and subnormals compare exactly.
private func bitPatterns(_ tensor: Tensor) -> [UInt32] { tensor.scalars.map(\.bitPattern) }

@Suite struct SafetensorsTests {
    let special: [Float] = [1.5, -0.0, .infinity, -.infinity, .nan, 0x1p-149]

    @Test func roundTripKeepsValuesShapesAndMetadata() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("model.safetensors")
        let weight = Tensor(shape: [2, 3], scalars: special)
        let ids = Indices(shape: [2, 2], values: [Int.min, -1, 0, Int.max])
        let metadata = [
            "format": "pt", "quote\"back\\slash": "line\nbreak\ttab\u{1}", "ünï": "✓ 😀",
        ]
        try Safetensors.write(
            [
                ("weight", .float(weight)), ("layer.0/\"odd\"", .float(Tensor(7))),
                ("empty", .float(.zeros([0, 4]))), ("ids", .int64(ids)),
            ], metadata: metadata, to: path)

        let file = try SafetensorsFile(path: path)
        #expect(file.names == ["empty", "ids", "layer.0/\"odd\"", "weight"])
        #expect(file.metadata == metadata)
        #expect(bitPatterns(try file.tensor("weight")) == bitPatterns(weight))
        #expect(try file.tensor("weight").shape == [2, 3])
        #expect(try file.tensor("layer.0/\"odd\"").shape == [])
        #expect(try file.tensor("layer.0/\"odd\"").scalar == 7)
        #expect(try file.tensor("empty").shape == [0, 4])
        #expect(try file.indices("ids") == ids)
        #expect(try file.info("ids").dtype == .int64)
        #expect(try file.info("weight").dtype == .float32)
        // Integers read as floats too.
        #expect(try file.tensor("ids").scalars == [-0x1p63, -1, 0, 0x1p63])
    }

    @Test func headerIsSortedAlignedAndDeterministic() throws {
        let scratch = try ScratchDirectory()
        let tensors = [
            "b": Tensor(shape: [2], scalars: [1, 2]), "a": Tensor(3), "c": Tensor.zeros([1, 1]),
        ]
        try Safetensors.write(tensors, metadata: ["y": "2", "x": "1"], to: scratch.file("one"))
        let reordered = [
            "c": Tensor.zeros([1, 1]), "a": Tensor(3), "b": Tensor(shape: [2], scalars: [1, 2]),
        ]
        try Safetensors.write(reordered, metadata: ["x": "1", "y": "2"], to: scratch.file("two"))

        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.file("one"))))
        #expect(bytes == (try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.file("two"))))))
        let length = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(length % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
        let expected = """
            {"__metadata__":{"x":"1","y":"2"},\
            "a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},\
            "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},\
            "c":{"dtype":"F32","shape":[1,1],"data_offsets":[12,16]}}
            """
        #expect(header.trimmingCharacters(in: .whitespaces) == expected)
        #expect(header.count - expected.count < 8)
        #expect(bytes.count == 8 + length + 16)
    }

    @Test func readsEveryDTypeWrittenByPython() throws {
        let file = try SafetensorsFile(path: try fixturePath("dtypes"))
        let about = try #require(file.metadata["about"])
        #expect(file.metadata.count == 1)
        #expect(
            about.hasPrefix(
                "Every dtype, with unicode \"ünïcödé\" and quotes. Written by scripts/fixtures/core.py"
            ))

        // Half types: every class of value, checked against literals and against torch's widening.
        let f16 = try file.tensor("f16")
        #expect(try file.info("f16").dtype == .float16)
        let f16Expected: [Float] = [
            0, -0.0, 1, -2, 65504, 0x1p-14, 0x1p-24, 0x1.ff8p-15, -0x1p-24, .infinity, -.infinity,
        ]
        #expect(Array(bitPatterns(f16).prefix(11)) == f16Expected.map(\.bitPattern))
        #expect(f16.scalars[11].isNaN && f16.scalars[12].isNaN && f16.scalars[13].isNaN)
        #expect(f16.scalars[12].sign == .minus)  // the sign of a NaN survives (torch drops it)
        #expect(f16.scalars[14] == 0.333251953125)
        let bf16 = try file.tensor("bf16")
        let bf16Expected: [Float] = [
            0, -0.0, 1, -2, 0x1.fep127, 0x1p-126, 0x1p-133, 0x1.fcp-127, -0x1p-133, .infinity,
            -.infinity,
        ]
        #expect(Array(bitPatterns(bf16).prefix(11)) == bf16Expected.map(\.bitPattern))
        #expect(bf16.scalars[11].isNaN && bf16.scalars[12].isNaN && bf16.scalars[12].sign == .minus)
        #expect(bf16.scalars[13] == 0.333984375)
        for name in ["f16", "f16_random", "bf16", "bf16_random"] {
            let widened = try file.tensor(name).scalars
            let torch = try file.tensor(name + "_as_f32").scalars
            #expect(widened.count == torch.count)
            for (a, b) in zip(widened, torch) {
                #expect(
                    a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN), "\(name): \(a) vs \(b)")
            }
        }
        #expect(try file.tensor("f16_random").shape == [3, 4])

        let f32 = try file.tensor("f32")
        #expect(
            Array(bitPatterns(f32).prefix(4))
                == [1.5, -0.0, .infinity, -.infinity].map(\.bitPattern))
        #expect(
            f32.scalars[4].isNaN && f32.scalars[5] == 0x1p-149
                && f32.scalars[6] == .greatestFiniteMagnitude)
        // F64 rounds to float32: 1e300 overflows to ∞, -1e-300 underflows to -0.
        #expect(try file.tensor("f64").scalars == [Float(0.1), -2.5, .infinity, -0.0])

        #expect(
            try file.indices("i64")
                == Indices(shape: [2, 3], values: [Int.min, -1, 0, 1, 30522, Int.max]))
        #expect(try file.indices("i32").values == [-2_147_483_648, -7, 0, 2_147_483_647])
        #expect(try file.indices("i16").values == [-32768, -1, 32767])
        #expect(try file.indices("i8").values == [-128, -1, 127])
        #expect(try file.indices("u8").values == [0, 1, 127, 128, 255])
        #expect(try file.indices("bool") == Indices(shape: [2, 2], values: [1, 0, 0, 1]))
        #expect(try file.tensor("bool").scalars == [1, 0, 0, 1])
        #expect(try file.tensor("u8").scalars == [0, 1, 127, 128, 255])
        #expect(try file.tensor("scalar").shape == [] && file.tensor("scalar").scalar == 3.5)
        #expect(try file.tensor("empty").shape == [0, 3])
        #expect(file.names == file.names.sorted() && file.names.count == 18)
    }

    @Test func float16WideningMatchesTheStandardLibraryForEveryBitPattern() {
        #if !(os(macOS) && arch(x86_64))
            for pattern in 0...UInt16.max {
                let ours = HalfFloats.float(fromFloat16: pattern)
                let reference = Float(Float16(bitPattern: pattern))
                if reference.isNaN {
                    #expect(ours.isNaN && ours.sign == reference.sign, "pattern \(pattern)")
                } else {
                    #expect(ours.bitPattern == reference.bitPattern, "pattern \(pattern)")
                }
            }
        #endif
    }

    @Test func missingNamesAndFloatIndicesAreExplained() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("m.safetensors")
        try Safetensors.write(["a": Tensor(1), "b": Tensor(2)], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(
            throws: SafetensorsError.missingTensor(name: "c", file: path, available: ["a", "b"])
        ) {
            try file.tensor("c")
        }
        #expect(throws: SafetensorsError.notIntegral(file: path, tensor: "a", dtype: .float32)) {
            try file.indices("a")
        }
        let message = SafetensorsError.missingTensor(name: "c", file: path, available: ["a", "b"])
            .description
        #expect(message.contains(path) && message.contains("'c'") && message.contains("'a', 'b'"))
    }

    @Test func writeRejectsRepeatedAndReservedNames() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("x.safetensors")
        #expect(
            throws: SafetensorsError.invalidName(
                file: path, tensor: "a", problem: "the name is given twice")
        ) {
            try Safetensors.write([("a", .float(Tensor(1))), ("a", .float(Tensor(2)))], to: path)
        }
        #expect(throws: SafetensorsError.self) {
            try Safetensors.write([("__metadata__", .float(Tensor(1)))], to: path)
        }
        #expect(try scratch.contents().isEmpty)
    }
}

@Suite struct SafetensorsAtomicWriteTests {
    @Test func writeLeavesOnlyTheFinishedFile() throws {
        let scratch = try ScratchDirectory()
        try Safetensors.write(["w": Tensor.ones([3])], to: scratch.file("model.safetensors"))
        #expect(try scratch.contents() == ["model.safetensors"])
    }

    @Test func successfulWriteReplacesTheOldFile() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("model.safetensors")
        try Safetensors.write(["w": Tensor.ones([3])], to: path)
        try Safetensors.write(["v": Tensor.zeros([2])], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.names == ["v"])
        #expect(try scratch.contents() == ["model.safetensors"])
    }

    @Test func failedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("model.safetensors")
        try Safetensors.write(["w": Tensor.ones([3])], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        // Rejected before any file is touched.
        #expect(throws: SafetensorsError.self) {
            try Safetensors.write([("w", .float(Tensor(1))), ("w", .float(Tensor(2)))], to: path)
        }
        // The rename fails: the destination is a directory.
        try FileManager.default.createDirectory(
            atPath: scratch.file("taken"), withIntermediateDirectories: false)
        let error = #expect(throws: SafetensorsError.self) {
            try Safetensors.write(["w": Tensor.zeros([3])], to: scratch.file("taken"))
        }
        guard case .writeFailed(let file, _)? = error else {
            Issue.record("expected writeFailed, got \(String(describing: error))")
            return
        }
        #expect(file == scratch.file("taken"))
        #expect(error?.description.contains(scratch.file("taken")) == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try scratch.contents() == ["model.safetensors", "taken"])
    }

    @Test func writeIntoAMissingDirectoryNamesThePath() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("absent/model.safetensors")
        let error = #expect(throws: SafetensorsError.self) {
            try Safetensors.write(["w": Tensor.ones([3])], to: path)
        }
        guard case .writeFailed(let file, let reason)? = error else {
            Issue.record("expected writeFailed, got \(String(describing: error))")
            return
        }
        #expect(file == path)
        #expect(reason.contains("No such file or directory"))
    }
}

@Suite struct ShardedSafetensorsTests {
    /// Two shards and an index in `scratch`: a, b in the first; c and ids in the second.
    private func writeCheckpoint(in scratch: ScratchDirectory, weightMap: String? = nil) throws
        -> String
    {
        try Safetensors.write(
            ["a": Tensor(shape: [2], scalars: [1, 2]), "b": Tensor(3)],
            to: scratch.file("model-00001-of-00002.safetensors"))
        try Safetensors.write(
            [("c", .float(Tensor.ones([2, 2]))), ("ids", .int64(Indices([4, 5, 6])))],
            to: scratch.file("model-00002-of-00002.safetensors"))
        let map =
            weightMap ?? """
                {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                 "c": "model-00002-of-00002.safetensors", "ids": "model-00002-of-00002.safetensors"}
                """
        return try writeIndex(
            #"{"metadata": {"total_size": 44}, "weight_map": "# + map + "}", in: scratch)
    }

    private func writeIndex(_ text: String, in scratch: ScratchDirectory) throws -> String {
        let path = scratch.file("model.safetensors.index.json")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func readsTensorsAcrossShards() throws {
        let scratch = try ScratchDirectory()
        let index = try writeCheckpoint(in: scratch)
        let checkpoint = try ShardedSafetensors(indexPath: index)
        #expect(checkpoint.names == ["a", "b", "c", "ids"])
        #expect(checkpoint.metadata == ["total_size": "44"])
        #expect(checkpoint.shards.count == 2)
        #expect(try checkpoint.tensor("a").scalars == [1, 2])
        #expect(try checkpoint.tensor("c").shape == [2, 2])
        #expect(try checkpoint.indices("ids").values == [4, 5, 6])
        #expect(try checkpoint.info("ids").dtype == .int64)
        #expect(
            throws: SafetensorsError.missingTensor(
                name: "z", file: index, available: ["a", "b", "c", "ids"])
        ) {
            try checkpoint.tensor("z")
        }
        let archive = try Safetensors.open(index)
        #expect(archive is ShardedSafetensors && archive.contains("c") && !archive.contains("z"))
        #expect(
            try Safetensors.open(scratch.file("model-00001-of-00002.safetensors"))
                is SafetensorsFile)
    }

    @Test func missingShardIsNamed() throws {
        let scratch = try ScratchDirectory()
        let index = try writeCheckpoint(
            in: scratch,
            weightMap: #"{"a": "model-00001-of-00002.safetensors", "q": "gone.safetensors"}"#)
        #expect(
            throws: SafetensorsError.missingShard(
                index: index, shard: scratch.file("gone.safetensors"))
        ) {
            try ShardedSafetensors(indexPath: index)
        }
    }

    @Test func tensorAbsentFromItsShardIsAMismatch() throws {
        let scratch = try ScratchDirectory()
        let index = try writeCheckpoint(
            in: scratch, weightMap: #"{"c": "model-00001-of-00002.safetensors"}"#)
        let shard = scratch.file("model-00001-of-00002.safetensors")
        #expect(throws: SafetensorsError.shardMismatch(index: index, shard: shard, tensor: "c")) {
            try ShardedSafetensors(indexPath: index)
        }
    }

    @Test(arguments: [
        "not json", "[1, 2]", #"{"metadata": {}}"#, #"{"weight_map": []}"#,
        #"{"weight_map": {"a": 3}}"#,
        #"{"weight_map": {"a": ""}}"#, #"{"metadata": [1], "weight_map": {}}"#,
        #"{"metadata": {"k": {}}, "weight_map": {}}"#,
    ])
    func malformedIndexIsRejected(_ text: String) throws {
        let scratch = try ScratchDirectory()
        let index = try writeIndex(text, in: scratch)
        let error = #expect(throws: SafetensorsError.self) {
            try ShardedSafetensors(indexPath: index)
        }
        guard case .invalidIndex(let file, _)? = error else {
            Issue.record("expected invalidIndex for \(text), got \(String(describing: error))")
            return
        }
        #expect(file == index)
    }

    @Test func unreadableIndexIsReported() throws {
        let scratch = try ScratchDirectory()
        let error = #expect(throws: SafetensorsError.self) {
            try ShardedSafetensors(indexPath: scratch.file("absent.index.json"))
        }
        guard case .unreadable? = error else {
            Issue.record("expected unreadable, got \(String(describing: error))")
            return
        }
    }
}
