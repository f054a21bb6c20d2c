// Element types of stored tensors, spelled as the safetensors header spells them
// (https://github.com/huggingface/safetensors, "dtype" field). Attend computes in float32 only;
// these describe what a file holds and how to turn it into a `Tensor` or `Indices`.

/// The element type of a tensor in a safetensors file.
public enum DType: String, Sendable, CaseIterable, Codable {
    /// IEEE 754 binary64.
    case float64 = "F64"
    /// IEEE 754 binary32: Attend's own type, read and written without conversion.
    case float32 = "F32"
    /// IEEE 754 binary16 (half precision).
    case float16 = "F16"
    /// bfloat16: the top 16 bits of a float32.
    case bfloat16 = "BF16"
    /// Signed 64-bit integers: token ids, position ids, labels.
    case int64 = "I64"
    /// Signed 32-bit integers.
    case int32 = "I32"
    /// Signed 16-bit integers.
    case int16 = "I16"
    /// Signed 8-bit integers.
    case int8 = "I8"
    /// Unsigned 8-bit integers.
    case uint8 = "U8"
    /// Booleans, one byte each (0 is false, anything else true).
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// True for the floating-point types, which `SafetensorsFile.indices(_:)` refuses.
    public var isFloatingPoint: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16: true
        case .int64, .int32, .int16, .int8, .uint8, .bool: false
        }
    }
}

#if _endian(big)
    #error(
        "safetensors stores little-endian values; the converters below assume a little-endian host")
#endif

extension DType {
    /// Converts `count` stored values starting at `source` (any alignment) to float32 in `y`.
    /// Widening from 16-bit floats is exact; 64-bit values round to the nearest float32.
    func decodeFloats(_ source: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .float32: UnsafeMutableRawPointer(y).copyMemory(from: source, byteCount: 4 * count)
        case .float16: HalfFloats.widenFloat16(source, into: y, count: count)
        case .bfloat16: HalfFloats.widenBFloat16(source, into: y, count: count)
        case .float64: decode(source, Double.self, into: y, count: count) { Float($0) }
        case .int64: decode(source, Int64.self, into: y, count: count) { Float($0) }
        case .int32: decode(source, Int32.self, into: y, count: count) { Float($0) }
        case .int16: decode(source, Int16.self, into: y, count: count) { Float($0) }
        case .int8: decode(source, Int8.self, into: y, count: count) { Float($0) }
        case .uint8: decode(source, UInt8.self, into: y, count: count) { Float($0) }
        case .bool: decode(source, UInt8.self, into: y, count: count) { $0 == 0 ? 0 : 1 }
        }
    }

    /// Converts `count` stored integers (or booleans, as 0 and 1) to `Int`; nil for float types.
    func decodeIntegers(_ source: UnsafeRawPointer, count: Int) -> [Int]? {
        var values = [Int](repeating: 0, count: count)
        let decoded = values.withUnsafeMutableBufferPointer { y -> Bool in
            guard let y = y.baseAddress else { return true }
            switch self {
            case .float64, .float32, .float16, .bfloat16: return false
            case .int64: decode(source, Int64.self, into: y, count: count) { Int($0) }
            case .int32: decode(source, Int32.self, into: y, count: count) { Int($0) }
            case .int16: decode(source, Int16.self, into: y, count: count) { Int($0) }
            case .int8: decode(source, Int8.self, into: y, count: count) { Int($0) }
            case .uint8: decode(source, UInt8.self, into: y, count: count) { Int($0) }
            case .bool: decode(source, UInt8.self, into: y, count: count) { $0 == 0 ? 0 : 1 }
            }
            return true
        }
        return decoded ? values : nil
    }

    /// y[i] = convert(stored value i), reading `Stored` values at any alignment.
    @inline(__always)
    private func decode<Stored: FixedWidthInteger, Value>(
        _ source: UnsafeRawPointer, _: Stored.Type, into y: UnsafeMutablePointer<Value>, count: Int,
        _ convert: (Stored) -> Value
    ) {
        let size = MemoryLayout<Stored>.size
        for i in 0..<count {
            let stored = source.loadUnaligned(fromByteOffset: i * size, as: Stored.self)
            y[i] = convert(Stored(littleEndian: stored))
        }
    }

    /// Float64 values through their bit patterns (little-endian, any alignment).
    @inline(__always)
    private func decode(
        _ source: UnsafeRawPointer, _: Double.Type, into y: UnsafeMutablePointer<Float>, count: Int,
        _ convert: (Double) -> Float
    ) {
        decode(source, UInt64.self, into: y, count: count) { convert(Double(bitPattern: $0)) }
    }
}
