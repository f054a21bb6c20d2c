import Foundation
import Testing

// Malformed safetensors input: each kind of damage gets its own error case, with the file and tensor
// named, and thousands of seeded random mutations of a valid file never crash the reader.
@testable import AttendCore

/// A safetensors file from parts: header bytes, data bytes and the header length it declares (the
/// true length unless given).
private func container(_ header: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil)
    -> [UInt8]
{
    let length = declaredLength ?? UInt64(header.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + header + data
}

private func container(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil)
    -> [UInt8]
{
    container(Array(header.utf8), data: data, declaredLength: declaredLength)
}

/// The header of a one-tensor file "w" with the given entry fields.
private func entry(_ fields: String) -> String { #"{"w": {"# + fields + "}}" }

private let eightBytes = [UInt8](repeating: 0, count: 8)

/// One kind of damage and the error it must produce for a file at `path`.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    let expected: @Sendable (_ path: String) -> SafetensorsError

    var testDescription: String { label }

    static let all: [MalformedCase] = [
        MalformedCase(label: "empty file", bytes: []) { .fileTooSmall(file: $0, size: 0) },
        MalformedCase(label: "shorter than the length field", bytes: [1, 0, 0]) {
            .fileTooSmall(file: $0, size: 3)
        },
        MalformedCase(
            label: "header length past the end", bytes: container("{}", declaredLength: 64)
        ) {
            .headerPastEnd(file: $0, headerLength: 64, fileSize: 10)
        },
        MalformedCase(
            label: "absurd header length", bytes: container("{}", declaredLength: 1 << 62)
        ) {
            .absurdHeaderLength(file: $0, length: 1 << 62, limit: 100_000_000)
        },
        MalformedCase(
            label: "header length one past the limit",
            bytes: container("{}", declaredLength: 100_000_001)
        ) {
            .absurdHeaderLength(file: $0, length: 100_000_001, limit: 100_000_000)
        },
        MalformedCase(
            label: "header not UTF-8",
            bytes: container(Array(#"{"a"#.utf8) + [0xFF, 0xFE] + Array(#"":1}"#.utf8))
        ) {
            .headerNotUTF8(file: $0)
        },
        MalformedCase(label: "header cut off", bytes: container(#"{"w": "#)) {
            .headerNotJSON(file: $0, offset: 6, problem: "the text ends where a value should start")
        },
        MalformedCase(label: "text after the header object", bytes: container("{} x")) {
            .headerNotJSON(file: $0, offset: 3, problem: "unexpected text after the JSON value")
        },
        MalformedCase(
            label: "the same name twice",
            bytes: container(
                #"{"a": {"dtype": "U8", "shape": [], "data_offsets": [0, 1]}, "a": 1}"#, data: [7])
        ) { .headerNotJSON(file: $0, offset: 60, problem: "duplicate key \"a\"") },
        MalformedCase(
            label: "nesting too deep",
            bytes: container(
                #"{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
                    + "}")
        ) { .headerNotJSON(file: $0, offset: 68, problem: "nesting deeper than 64 levels") },
        MalformedCase(label: "header is an array", bytes: container("[1]")) {
            .headerNotObject(file: $0, found: "an array")
        },
        MalformedCase(
            label: "metadata value not a string", bytes: container(#"{"__metadata__": {"k": 1}}"#)
        ) {
            .invalidMetadata(file: $0, problem: "maps \"k\" to a number")
        },
        MalformedCase(label: "metadata not an object", bytes: container(#"{"__metadata__": []}"#)) {
            .invalidMetadata(file: $0, problem: "is an array")
        },
        MalformedCase(
            label: "unknown dtype",
            bytes: container(
                entry(#""dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]"#),
                data: eightBytes)
        ) { .unsupportedDType(file: $0, tensor: "w", dtype: "F8_E4M3") },
        MalformedCase(
            label: "missing dtype",
            bytes: container(entry(#""shape": [2], "data_offsets": [0, 8]"#), data: eightBytes)
        ) {
            .missingField(file: $0, tensor: "w", field: "dtype")
        },
        MalformedCase(
            label: "missing shape",
            bytes: container(entry(#""dtype": "F32", "data_offsets": [0, 8]"#), data: eightBytes)
        ) {
            .missingField(file: $0, tensor: "w", field: "shape")
        },
        MalformedCase(
            label: "missing data_offsets",
            bytes: container(entry(#""dtype": "F32", "shape": [2]"#), data: eightBytes)
        ) {
            .missingField(file: $0, tensor: "w", field: "data_offsets")
        },
        MalformedCase(label: "entry not an object", bytes: container(#"{"w": 5}"#)) {
            .invalidField(
                file: $0, tensor: "w", field: "",
                problem: "is a number, not an object with dtype, shape and data_offsets")
        },
        MalformedCase(
            label: "dtype not a string",
            bytes: container(entry(#""dtype": 5, "shape": [2], "data_offsets": [0, 8]"#))
        ) {
            .invalidField(file: $0, tensor: "w", field: "dtype", problem: "is 5, not a string")
        },
        MalformedCase(
            label: "shape not an array",
            bytes: container(entry(#""dtype": "F32", "shape": "2", "data_offsets": [0, 8]"#))
        ) {
            .invalidField(
                file: $0, tensor: "w", field: "shape", problem: "is a string, not an array")
        },
        MalformedCase(
            label: "fractional extent",
            bytes: container(entry(#""dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]"#))
        ) {
            .invalidField(
                file: $0, tensor: "w", field: "shape",
                problem: "must hold integers only, but holds 2.5")
        },
        MalformedCase(
            label: "boolean extent",
            bytes: container(entry(#""dtype": "F32", "shape": [true], "data_offsets": [0, 4]"#))
        ) {
            .invalidField(
                file: $0, tensor: "w", field: "shape",
                problem: "must hold integers only, but holds true")
        },
        MalformedCase(
            label: "negative extent",
            bytes: container(entry(#""dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]"#))
        ) {
            .negativeShape(file: $0, tensor: "w", shape: [-1, 2])
        },
        MalformedCase(
            label: "extent product overflows",
            bytes: container(
                entry(#""dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]"#)
            )
        ) {
            .invalidField(
                file: $0, tensor: "w", field: "shape",
                problem: "[4611686018427387904, 4] describes more bytes than a file can hold")
        },
        MalformedCase(
            label: "one offset",
            bytes: container(entry(#""dtype": "F32", "shape": [2], "data_offsets": [8]"#))
        ) {
            .invalidField(
                file: $0, tensor: "w", field: "data_offsets",
                problem: "must be two numbers, [begin, end], but holds 1")
        },
        MalformedCase(
            label: "offset beyond 64 bits",
            bytes: container(entry(#""dtype": "F32", "shape": [2], "data_offsets": [0, 1e30]"#))
        ) {
            .invalidField(
                file: $0, tensor: "w", field: "data_offsets",
                problem: "must hold integers only, but holds 1e+30")
        },
        MalformedCase(
            label: "offsets reversed",
            bytes: container(
                entry(#""dtype": "F32", "shape": [1], "data_offsets": [8, 4]"#), data: eightBytes)
        ) { .invalidOffsets(file: $0, tensor: "w", begin: 8, end: 4) },
        MalformedCase(
            label: "offset negative",
            bytes: container(
                entry(#""dtype": "F32", "shape": [1], "data_offsets": [-4, 0]"#), data: eightBytes)
        ) { .invalidOffsets(file: $0, tensor: "w", begin: -4, end: 0) },
        MalformedCase(
            label: "shape and byte count disagree",
            bytes: container(
                entry(#""dtype": "F32", "shape": [3], "data_offsets": [0, 8]"#), data: eightBytes)
        ) {
            .byteCountMismatch(
                file: $0, tensor: "w", dtype: .float32, shape: [3], expected: 12, actual: 8)
        },
        MalformedCase(
            label: "data truncated",
            bytes: container(
                entry(#""dtype": "F32", "shape": [4], "data_offsets": [0, 16]"#), data: eightBytes)
        ) { .truncatedFile(file: $0, tensor: "w", needed: 8 + 62 + 16, available: 8 + 62 + 8) },
        MalformedCase(
            label: "tensors overlap",
            bytes: container(
                #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "#
                    + #""b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
                data: eightBytes + [0, 0, 0, 0])
        ) { .overlappingTensors(file: $0, first: "a", second: "b") },
    ]
}

@Suite struct SafetensorsMalformedInputTests {
    @Test(arguments: MalformedCase.all)
    func damageIsReportedPrecisely(_ damage: MalformedCase) throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("damaged.safetensors")
        try Data(damage.bytes).write(to: URL(fileURLWithPath: path))
        let expected = damage.expected(path)
        #expect(throws: expected) { try SafetensorsFile(path: path) }
        #expect(expected.file == path)
        #expect(expected.description.hasPrefix(path + ": "))
    }

    @Test func truncatedFixtureNamesTheTensor() throws {
        // The same damage as "data truncated" in the table, computed from the header of a real file.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try fixturePath("dtypes"))))
        let scratch = try ScratchDirectory()
        let path = scratch.file("cut.safetensors")
        try Data(bytes.dropLast(3)).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: path) }
        guard case .truncatedFile(let file, _, let needed, let available)? = error else {
            Issue.record("expected truncatedFile, got \(String(describing: error))")
            return
        }
        #expect(file == path && needed == bytes.count && available == bytes.count - 3)
    }

    @Test func unreadablePathsAreReported() throws {
        let scratch = try ScratchDirectory()
        for path in [scratch.file("absent.safetensors"), scratch.path] {
            let error = #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: path) }
            guard case .unreadable(let file, _)? = error else {
                Issue.record("expected unreadable for \(path), got \(String(describing: error))")
                continue
            }
            #expect(file == path)
        }
    }

    /// Seeded byte flips, JSON-significant characters, truncations, insertions and rewritten lengths,
    /// mostly aimed at the header: opening may fail, but only with a `SafetensorsError`, and a file that
    /// opens must read every tensor. Files are opened from exact-size heap copies, so an address
    /// sanitizer build (`swift test --sanitize=address`) also catches any read past the end.
    @Test func randomDamageNeverCrashes() throws {
        let original = try [UInt8](
            Data(contentsOf: URL(fileURLWithPath: try fixturePath("dtypes"))))
        let headerEnd = 8 + original[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        let significant = Array(#"{}[],:"-0123456789 eE."#.utf8) + [0xFF, 0x00, 0xC3]
        var random = RandomGenerator(seed: 2024)
        var opened = 0
        var rejected = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0...random.nextInt(below: 3) {
                let inHeader = random.nextInt(below: max(headerEnd, 1))
                switch random.nextInt(below: 6) {
                case 0:
                    bytes[random.nextInt(below: bytes.count)] ^= UInt8(
                        1 << random.nextInt(below: 8))
                case 1:
                    bytes[min(inHeader, bytes.count - 1)] =
                        significant[random.nextInt(below: significant.count)]
                case 2: bytes.removeLast(random.nextInt(below: bytes.count))
                case 3:
                    bytes.insert(
                        significant[random.nextInt(below: significant.count)],
                        at: min(inHeader, bytes.count))
                case 4: bytes.remove(at: min(inHeader, bytes.count - 1))
                default:
                    let position = random.nextInt(below: 8)
                    if position < bytes.count {
                        bytes[position] = UInt8(truncatingIfNeeded: random.next())
                    }
                }
                if bytes.isEmpty { break }
            }
            let file: SafetensorsFile
            do {
                file = try SafetensorsFile(contents: bytes, path: "mutated.safetensors")
            } catch is SafetensorsError {
                rejected += 1
                continue
            }
            opened += 1
            for name in file.names {
                let info = try file.info(name)
                let values = try file.tensor(name)
                #expect(values.shape == info.shape)
                if !info.dtype.isFloatingPoint {
                    #expect(try file.indices(name).count == info.count)
                }
            }
        }
        #expect(opened > 50 && rejected > 50, "opened \(opened), rejected \(rejected)")
    }
}
