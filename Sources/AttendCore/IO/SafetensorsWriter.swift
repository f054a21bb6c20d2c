// Writing safetensors files: F32 tensors and I64 indices, with `__metadata__`. The output is
// deterministic: metadata keys and tensor names in sorted order, tensors stored in name order with
// no gaps, and the header padded with spaces to a multiple of 8 bytes (the format allows this so
// the data section starts 8-byte aligned). Files are written atomically (AtomicFile.swift).

/// A value to store: float32 values or 64-bit integer indices.
public enum SafetensorsValue: Sendable {
    /// Stored as F32.
    case float(Tensor)
    /// Stored as I64.
    case int64(Indices)

    var dtype: DType {
        switch self {
        case .float: .float32
        case .int64: .int64
        }
    }

    var shape: [Int] {
        switch self {
        case .float(let tensor): tensor.shape
        case .int64(let indices): indices.shape
        }
    }

    var byteCount: Int { Shape.count(shape) * dtype.byteSize }

    /// Writes the little-endian element bytes.
    func write(to sink: FileSink) throws {
        switch self {
        case .float(let tensor):
            try tensor.withUnsafeBufferPointer { try sink.write(UnsafeRawBufferPointer($0)) }
        case .int64(let indices):
            try indices.values.map { Int64($0) }.withUnsafeBytes { try sink.write($0) }
        }
    }
}

extension Safetensors {
    /// Writes `tensors` and `metadata` to `path` as a safetensors file, replacing any file there
    /// only once the new one is complete.
    ///
    /// Throws `SafetensorsError.invalidName` for a repeated name or the reserved `__metadata__`,
    /// and `SafetensorsError.writeFailed` (naming `path`) when the file system refuses.
    public static func write(
        _ tensors: [(String, SafetensorsValue)], metadata: [String: String] = [:], to path: String
    ) throws {
        var seen = Set<String>()
        for (name, _) in tensors {
            guard name != "__metadata__" else {
                throw SafetensorsError.invalidName(
                    file: path, tensor: name, problem: "the name is reserved for the metadata entry"
                )
            }
            guard seen.insert(name).inserted else {
                throw SafetensorsError.invalidName(
                    file: path, tensor: name, problem: "the name is given twice")
            }
        }
        let ordered = tensors.sorted { $0.0 < $1.0 }
        let header = encodeHeader(ordered, metadata: metadata)
        try AtomicFile.write(to: path) { sink in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try sink.write($0) }
            try sink.write(header)
            for (_, value) in ordered { try value.write(to: sink) }
        }
    }

    /// Writes float32 tensors (all stored as F32), sorted by name.
    public static func write(
        _ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String
    ) throws {
        try write(tensors.map { ($0.key, .float($0.value)) }, metadata: metadata, to: path)
    }

    /// The JSON header for `tensors` (already in storage order), padded with spaces so that
    /// 8 + its length is a multiple of 8.
    static func encodeHeader(_ tensors: [(String, SafetensorsValue)], metadata: [String: String])
        -> [UInt8]
    {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map {
                "\(jsonString($0.key)):\(jsonString($0.value))"
            }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, value) in tensors {
            let shape = value.shape.map(String.init).joined(separator: ",")
            let end = offset + value.byteCount
            entries.append(
                "\(jsonString(name)):{\"dtype\":\"\(value.dtype.rawValue)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header.append(
            contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        return header
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
