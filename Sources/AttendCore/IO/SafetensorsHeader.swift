// The safetensors container (https://github.com/huggingface/safetensors, README "Format"):
//   [8 bytes: N, little-endian u64] [N bytes: JSON header, may end in spaces] [data section]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, offsets
// counting bytes from the start of the data section, plus an optional "__metadata__" of strings.
// Everything is checked here, once, when a file opens, so reading a tensor later cannot go out of
// bounds. Unlike the reference reader, gaps between tensors and trailing bytes are accepted: they
// cannot make a read unsafe, and refusing them would only reject files that read correctly.

/// Where one tensor lives in a safetensors file.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name in the file.
    public let name: String
    /// The stored element type.
    public let dtype: DType
    /// Extent of each axis (`[]` for a scalar).
    public let shape: [Int]
    /// Byte range within the data section (which starts after the header).
    public let dataOffsets: Range<Int>

    /// Number of elements.
    public var count: Int { Shape.count(shape) }
}

/// The parsed and checked header of a safetensors file.
struct SafetensorsHeader {
    /// The reference implementation's limit; real headers are kilobytes to a few megabytes.
    static let maximumLength = 100_000_000

    /// String pairs from `__metadata__`.
    let metadata: [String: String]
    /// Every tensor's entry, by name.
    let tensors: [String: SafetensorsTensorInfo]
    /// Offset of the data section from the start of the file (8 + header length).
    let dataStart: Int

    /// Parses and checks the header at the start of `file`, the bytes of the file at `path`.
    init(parsing file: UnsafeRawBufferPointer, path: String) throws(SafetensorsError) {
        guard file.count >= 8 else { throw .fileTooSmall(file: path, size: file.count) }
        let declared = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(Self.maximumLength) else {
            throw .absurdHeaderLength(file: path, length: declared, limit: Self.maximumLength)
        }
        let length = Int(declared)
        guard length <= file.count - 8 else {
            throw .headerPastEnd(file: path, headerLength: length, fileSize: file.count)
        }
        let text = UnsafeBufferPointer(rebasing: file.bindMemory(to: UInt8.self)[8..<(8 + length)])
        guard String(validating: text, as: UTF8.self) != nil else {
            throw .headerNotUTF8(file: path)
        }
        let root: JSONValue
        do {
            root = try JSONValue.parse(text)
        } catch {
            throw .headerNotJSON(file: path, offset: error.offset, problem: error.message)
        }
        guard case .object(let members) = root else {
            throw .headerNotObject(file: path, found: root.kind)
        }

        dataStart = 8 + length
        let entry = EntryReader(path: path, dataSize: file.count - dataStart, dataStart: dataStart)
        var metadata: [String: String] = [:]
        var tensors: [String: SafetensorsTensorInfo] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try Self.metadata(value, path: path)
            } else {
                tensors[name] = try entry.read(name, value)
            }
        }
        try Self.checkNoOverlap(tensors.values, path: path)
        self.metadata = metadata
        self.tensors = tensors
    }

    private static func metadata(_ value: JSONValue, path: String) throws(SafetensorsError)
        -> [String: String]
    {
        switch value {
        case .null:
            return [:]
        case .object(let pairs):
            var metadata: [String: String] = [:]
            for (key, value) in pairs {
                guard case .string(let text) = value else {
                    throw .invalidMetadata(file: path, problem: "maps \"\(key)\" to \(value.kind)")
                }
                metadata[key] = text
            }
            return metadata
        default:
            throw .invalidMetadata(file: path, problem: "is \(value.kind)")
        }
    }

    /// Sweeps the non-empty ranges in order of their start; each must begin at or after the
    /// furthest end seen so far.
    private static func checkNoOverlap(
        _ tensors: some Collection<SafetensorsTensorInfo>, path: String
    ) throws(SafetensorsError) {
        let ordered = tensors.filter { !$0.dataOffsets.isEmpty }.sorted {
            ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name)
        }
        guard var furthest = ordered.first else { return }
        for info in ordered.dropFirst() {
            if info.dataOffsets.lowerBound < furthest.dataOffsets.upperBound {
                throw .overlappingTensors(file: path, first: furthest.name, second: info.name)
            }
            if info.dataOffsets.upperBound > furthest.dataOffsets.upperBound { furthest = info }
        }
    }
}

/// Checks one tensor entry of the header.
private struct EntryReader {
    let path: String
    /// Bytes after the header.
    let dataSize: Int
    let dataStart: Int

    func read(_ name: String, _ value: JSONValue) throws(SafetensorsError) -> SafetensorsTensorInfo
    {
        guard case .object(let pairs) = value else {
            throw .invalidField(
                file: path, tensor: name, field: "",
                problem: "is \(value.kind), not an object with dtype, shape and data_offsets")
        }
        func field(_ key: String) throws(SafetensorsError) -> JSONValue {
            guard let found = pairs.first(where: { $0.key == key }) else {
                throw .missingField(file: path, tensor: name, field: key)
            }
            return found.value
        }

        guard case .string(let dtypeName) = try field("dtype") else {
            throw .invalidField(
                file: path, tensor: name, field: "dtype",
                problem: "is \(try field("dtype").summary), not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unsupportedDType(file: path, tensor: name, dtype: dtypeName)
        }
        let shape = try integers(try field("shape"), name: name, field: "shape")
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw .negativeShape(file: path, tensor: name, shape: shape)
        }
        let offsets = try integers(try field("data_offsets"), name: name, field: "data_offsets")
        guard offsets.count == 2 else {
            throw .invalidField(
                file: path, tensor: name, field: "data_offsets",
                problem: "must be two numbers, [begin, end], but holds \(offsets.count)")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, end >= begin else {
            throw .invalidOffsets(file: path, tensor: name, begin: begin, end: end)
        }

        var byteCount = dtype.byteSize
        for extent in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw .invalidField(
                    file: path, tensor: name, field: "shape",
                    problem: "\(shape) describes more bytes than a file can hold")
            }
            byteCount = product
        }
        guard byteCount == end - begin else {
            throw .byteCountMismatch(
                file: path, tensor: name, dtype: dtype, shape: shape, expected: byteCount,
                actual: end - begin)
        }
        guard end <= dataSize else {
            let (needed, overflow) = dataStart.addingReportingOverflow(end)
            throw .truncatedFile(
                file: path, tensor: name, needed: overflow ? .max : needed,
                available: dataStart + dataSize)
        }
        return SafetensorsTensorInfo(
            name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// An array of JSON integers.
    func integers(_ value: JSONValue, name: String, field: String) throws(SafetensorsError) -> [Int]
    {
        guard case .array(let elements) = value else {
            throw .invalidField(
                file: path, tensor: name, field: field, problem: "is \(value.kind), not an array")
        }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .integer(let number) = element else {
                throw .invalidField(
                    file: path, tensor: name, field: field,
                    problem: "must hold integers only, but holds \(element.summary)")
            }
            result.append(number)
        }
        return result
    }
}
