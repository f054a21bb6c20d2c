// Everything that can be wrong with a safetensors file, its sharded index, or a write: each case
// carries the file, the tensor (when there is one) and the values that show the problem, and its
// description says what to do about it.
import Foundation

/// A safetensors file or index that cannot be read, a missing tensor, or a failed write.
public enum SafetensorsError: Error, Equatable, Sendable {
    // Opening a file: the container.
    /// The file cannot be opened, inspected or mapped (`reason` is the system's message).
    case unreadable(file: String, reason: String)
    /// Shorter than the 8-byte header length that starts every safetensors file.
    case fileTooSmall(file: String, size: Int)
    /// The header length is beyond any real header (a damaged file, or not a safetensors file).
    case absurdHeaderLength(file: String, length: UInt64, limit: Int)
    /// The header length points past the end of the file.
    case headerPastEnd(file: String, headerLength: Int, fileSize: Int)
    /// The header bytes are not valid UTF-8.
    case headerNotUTF8(file: String)
    /// The header is not JSON; `offset` counts bytes from the start of the header.
    case headerNotJSON(file: String, offset: Int, problem: String)
    /// The header is JSON but not an object.
    case headerNotObject(file: String, found: String)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(file: String, problem: String)

    // Opening a file: one tensor's entry.
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets` (or is not an object at all).
    case missingField(file: String, tensor: String, field: String)
    /// A tensor entry's field has the wrong JSON type or form (`field` is empty when the entry
    /// itself is not an object).
    case invalidField(file: String, tensor: String, field: String, problem: String)
    /// The dtype is not one Attend reads (see `DType`).
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// The shape has a negative extent.
    case negativeShape(file: String, tensor: String, shape: [Int])
    /// `data_offsets` is not a range: negative, or the end before the start.
    case invalidOffsets(file: String, tensor: String, begin: Int, end: Int)
    /// The byte range does not hold exactly shape × dtype size bytes.
    case byteCountMismatch(
        file: String, tensor: String, dtype: DType, shape: [Int], expected: Int, actual: Int)
    /// The tensor's bytes run past the end of the file: `needed` bytes in all, `available` present.
    case truncatedFile(file: String, tensor: String, needed: Int, available: Int)
    /// Two tensors claim some of the same bytes.
    case overlappingTensors(file: String, first: String, second: String)

    // Reading.
    /// No tensor with this name; `available` lists the names the file has.
    case missingTensor(name: String, file: String, available: [String])
    /// `indices(_:)` asked for a floating-point tensor.
    case notIntegral(file: String, tensor: String, dtype: DType)

    // Writing.
    /// A name that cannot be written: reserved or given twice.
    case invalidName(file: String, tensor: String, problem: String)
    /// Creating, writing or renaming the file failed (`reason` is the system's message); the
    /// destination was left as it was.
    case writeFailed(file: String, reason: String)

    // Sharded checkpoints.
    /// `model.safetensors.index.json` is unreadable or not of the expected form.
    case invalidIndex(file: String, problem: String)
    /// The index names a shard file that does not exist.
    case missingShard(index: String, shard: String)
    /// The index places a tensor in a shard that does not contain it.
    case shardMismatch(index: String, shard: String, tensor: String)

    /// The file (or index) the error is about.
    public var file: String {
        switch self {
        case .unreadable(let file, _), .fileTooSmall(let file, _),
            .absurdHeaderLength(let file, _, _),
            .headerPastEnd(let file, _, _), .headerNotUTF8(let file),
            .headerNotJSON(let file, _, _),
            .headerNotObject(let file, _), .invalidMetadata(let file, _),
            .missingField(let file, _, _),
            .invalidField(let file, _, _, _), .unsupportedDType(let file, _, _),
            .negativeShape(let file, _, _), .invalidOffsets(let file, _, _, _),
            .byteCountMismatch(let file, _, _, _, _, _), .truncatedFile(let file, _, _, _),
            .overlappingTensors(let file, _, _), .missingTensor(_, let file, _),
            .notIntegral(let file, _, _), .invalidName(let file, _, _), .writeFailed(let file, _),
            .invalidIndex(let file, _):
            file
        case .missingShard(let index, _), .shardMismatch(let index, _, _):
            index
        }
    }
}

extension SafetensorsError: CustomStringConvertible, LocalizedError {
    /// What is wrong and what to do about it.
    public var description: String {
        let damaged =
            "The file is damaged or was not written as safetensors; re-download or re-export it."
        switch self {
        case .unreadable(let file, let reason):
            return "\(file): cannot read the file (\(reason)). Check the path and its permissions."
        case .fileTooSmall(let file, let size):
            return """
                \(file): \(size) bytes is too short for a safetensors file, which starts with an \
                8-byte header length. The file is empty or truncated; re-download or re-export it.
                """
        case .absurdHeaderLength(let file, let length, let limit):
            return """
                \(file): the header claims \(length) bytes, more than the \(limit)-byte limit any \
                real header stays under. \(damaged)
                """
        case .headerPastEnd(let file, let headerLength, let fileSize):
            return """
                \(file): the header claims \(headerLength) bytes but the file has only \(fileSize) \
                bytes. The file is truncated (an interrupted download or copy?); fetch it again.
                """
        case .headerNotUTF8(let file):
            return "\(file): the JSON header is not valid UTF-8. \(damaged)"
        case .headerNotJSON(let file, let offset, let problem):
            return
                "\(file): the header is not valid JSON at byte \(offset) of the header: \(problem). \(damaged)"
        case .headerNotObject(let file, let found):
            return
                "\(file): the header is \(found), not a JSON object of tensor entries. \(damaged)"
        case .invalidMetadata(let file, let problem):
            return
                "\(file): \"__metadata__\" \(problem); it must map strings to strings. Fix the writer that made it."
        case .missingField(let file, let tensor, let field):
            return "\(file): the entry for tensor '\(tensor)' has no \"\(field)\". \(damaged)"
        case .invalidField(let file, let tensor, let field, let problem):
            let subject =
                field.isEmpty
                ? "the entry for tensor '\(tensor)'" : "\"\(field)\" of tensor '\(tensor)'"
            return "\(file): \(subject) \(problem). \(damaged)"
        case .unsupportedDType(let file, let tensor, let dtype):
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            return """
                \(file): tensor '\(tensor)' has dtype "\(dtype)", which Attend does not read \
                (it reads \(known)). Convert the checkpoint, e.g. to F32, before loading it.
                """
        case .negativeShape(let file, let tensor, let shape):
            return "\(file): tensor '\(tensor)' has a negative extent in shape \(shape). \(damaged)"
        case .invalidOffsets(let file, let tensor, let begin, let end):
            return """
                \(file): tensor '\(tensor)' has data_offsets [\(begin), \(end)], which is not a \
                byte range (offsets must be non-negative, begin ≤ end). \(damaged)
                """
        case .byteCountMismatch(
            let file, let tensor, let dtype, let shape, let expected, let actual):
            return """
                \(file): tensor '\(tensor)' of shape \(shape) and dtype \(dtype.rawValue) needs \
                \(expected) bytes, but its data_offsets span \(actual). \(damaged)
                """
        case .truncatedFile(let file, let tensor, let needed, let available):
            return """
                \(file): tensor '\(tensor)' needs the file to be at least \(needed) bytes long, but \
                it has \(available). The file is truncated (an interrupted download or copy?); \
                fetch it again.
                """
        case .overlappingTensors(let file, let first, let second):
            return "\(file): tensors '\(first)' and '\(second)' share bytes. \(damaged)"
        case .missingTensor(let name, let file, let available):
            let shown = available.prefix(12).map { "'\($0)'" }.joined(separator: ", ")
            let more = available.count > 12 ? " and \(available.count - 12) more" : ""
            let list = available.isEmpty ? "it holds no tensors" : "it holds \(shown)\(more)"
            return """
                \(file): no tensor named '\(name)'; \(list). Check the name (checkpoints from \
                other libraries may use other prefixes).
                """
        case .notIntegral(let file, let tensor, let dtype):
            return """
                \(file): tensor '\(tensor)' holds \(dtype.rawValue) values, not integers; read it \
                with tensor(_:) instead of indices(_:).
                """
        case .invalidName(let file, let tensor, let problem):
            return "\(file): cannot write tensor '\(tensor)': \(problem). Rename it."
        case .writeFailed(let file, let reason):
            return """
                \(file): writing failed (\(reason)); any previous file there is unchanged. Check \
                that the directory exists, is writable, and has free space.
                """
        case .invalidIndex(let file, let problem):
            return """
                \(file): not a valid sharded checkpoint index (\(problem)). It should be \
                {"metadata": {…}, "weight_map": {tensor name: shard file name}}; re-download it.
                """
        case .missingShard(let index, let shard):
            return """
                \(index): the shard '\(shard)' it lists is missing. Download every shard into the \
                directory that holds the index.
                """
        case .shardMismatch(let index, let shard, let tensor):
            return """
                \(index): lists tensor '\(tensor)' in shard '\(shard)', which does not contain it. \
                The index and the shards come from different checkpoints; download them together.
                """
        }
    }

    /// The same text as `description`, for APIs that read `localizedDescription`.
    public var errorDescription: String? { description }
}
