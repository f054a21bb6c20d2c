// Reading safetensors files (Hugging Face's checkpoint format; layout in SafetensorsHeader.swift).
// The file is memory-mapped and its header checked once on opening; each `tensor(_:)` call then
// converts one tensor's bytes to float32 (or `indices(_:)` to Int) in a single pass.
// Both a single file and a sharded checkpoint (ShardedSafetensors.swift) answer the same
// `SafetensorsArchive` calls, so model loaders need not care which one they were given.

/// Read access to named tensors: one safetensors file, or a checkpoint sharded across several.
public protocol SafetensorsArchive: AnyObject, Sendable {
    /// The file that was opened (the `.safetensors` file, or the sharded index).
    var path: String { get }
    /// Every tensor name, sorted.
    var names: [String] { get }
    /// The free-form string pairs stored with the checkpoint.
    var metadata: [String: String] { get }
    /// True when a tensor named `name` exists.
    func contains(_ name: String) -> Bool
    /// Dtype, shape and location of a tensor; throws `SafetensorsError.missingTensor` if absent.
    func info(_ name: String) throws -> SafetensorsTensorInfo
    /// A tensor converted to float32, whatever its stored dtype.
    func tensor(_ name: String) throws -> Tensor
    /// An integer or boolean tensor as `Int` indices (booleans as 0 and 1).
    func indices(_ name: String) throws -> Indices
}

/// A safetensors file, memory-mapped read-only.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// let weight = try file.tensor("encoder.layer.0.attention.self.query.weight")   // F32/F16/BF16 → Float
/// let positions = try file.indices("embeddings.position_ids")                  // I64 → Int
/// ```
/// Opening checks the whole header (dtypes, shapes, byte ranges against the file size), so a
/// damaged file fails at once with a `SafetensorsError` that names the file and the tensor.
public final class SafetensorsFile: SafetensorsArchive, @unchecked Sendable {
    /// The file's path as given.
    public let path: String
    /// Every tensor name, sorted.
    public let names: [String]
    /// The `__metadata__` string pairs (empty when the file has none).
    public var metadata: [String: String] { header.metadata }

    private let header: SafetensorsHeader
    private let contents: FileBytes

    /// Maps the file at `path` and checks its header.
    public init(path: String) throws {
        self.path = path
        contents = try FileBytes(path: path)
        header = try SafetensorsHeader(parsing: contents.bytes, path: path)
        names = header.tensors.keys.sorted()
    }

    /// Reads a file's contents from memory; `path` only names it in errors (used by tests).
    init(contents: [UInt8], path: String) throws {
        self.path = path
        self.contents = FileBytes(copying: contents)
        header = try SafetensorsHeader(parsing: self.contents.bytes, path: path)
        names = header.tensors.keys.sorted()
    }

    /// True when the file holds a tensor named `name`.
    public func contains(_ name: String) -> Bool { header.tensors[name] != nil }

    /// Dtype, shape and byte range of the tensor `name`.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let info = header.tensors[name] else {
            throw SafetensorsError.missingTensor(name: name, file: path, available: names)
        }
        return info
    }

    /// The tensor `name` as float32: floats widen exactly (F16, BF16) or round (F64); integers and
    /// booleans become their values (integers beyond 2²⁴ round to the nearest float).
    public func tensor(_ name: String) throws -> Tensor {
        let info = try info(name)
        let source = bytes(of: info)
        return Tensor.filled(shape: info.shape) { y in
            if let base = y.baseAddress {
                info.dtype.decodeFloats(source, into: base, count: info.count)
            }
        }
    }

    /// The integer or boolean tensor `name` as indices; floating-point tensors throw
    /// `SafetensorsError.notIntegral`.
    public func indices(_ name: String) throws -> Indices {
        let info = try info(name)
        guard let values = info.dtype.decodeIntegers(bytes(of: info), count: info.count) else {
            throw SafetensorsError.notIntegral(file: path, tensor: name, dtype: info.dtype)
        }
        return Indices(shape: info.shape, values: values)
    }

    /// Start of a tensor's bytes (checked against the file size when it opened).
    private func bytes(of info: SafetensorsTensorInfo) -> UnsafeRawPointer {
        contents.bytes.baseAddress! + header.dataStart + info.dataOffsets.lowerBound
    }
}

/// Reading and writing safetensors checkpoints.
public enum Safetensors {
    /// Opens a checkpoint: a sharded index when `path` ends in `.json`
    /// (`model.safetensors.index.json`), a single `.safetensors` file otherwise.
    public static func open(_ path: String) throws -> any SafetensorsArchive {
        path.hasSuffix(".json")
            ? try ShardedSafetensors(indexPath: path) : try SafetensorsFile(path: path)
    }
}
