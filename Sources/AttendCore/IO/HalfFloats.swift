// Exact widening of the 16-bit float formats to float32, by bit manipulation, so the result does not
// depend on the platform's `Float16` support or rounding mode. Every binary16 and bfloat16 value
// (subnormals, ±0, ±∞, NaN payloads) is representable in float32, so widening never rounds.
// Formats: IEEE 754-2008 binary16 (1 sign, 5 exponent, 10 fraction bits, bias 15) and bfloat16
// (1 sign, 8 exponent, 7 fraction bits: the top half of a float32).

/// Conversions from the 16-bit float formats to `Float`.
public enum HalfFloats {
    /// The float32 equal to the binary16 value with bit pattern `bits`.
    @inlinable @inline(__always)
    public static func float(fromFloat16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x03FF)
        switch exponent {
        case 0x1F:
            // ±∞ (fraction 0) or NaN: all-ones exponent, fraction (the payload) moved to the top.
            return Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
        case 0:
            // ±0 or a subnormal fraction·2⁻²⁴: the product is exact because fraction < 2¹⁰.
            let magnitude = Float(fraction) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        default:
            // Normal: rebias the exponent from 15 to 127 and widen the fraction from 10 to 23 bits.
            return Float(bitPattern: sign | (exponent + 112) << 23 | fraction << 13)
        }
    }

    /// The float32 equal to the bfloat16 value with bit pattern `bits`.
    @inlinable @inline(__always)
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Widens `count` little-endian binary16 values starting at `source` (any alignment) into `y`.
    public static func widenFloat16(
        _ source: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            let bits = UInt16(
                littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            y[i] = float(fromFloat16: bits)
        }
    }

    /// Widens `count` little-endian bfloat16 values starting at `source` (any alignment) into `y`.
    public static func widenBFloat16(
        _ source: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            let bits = UInt16(
                littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            y[i] = float(fromBFloat16: bits)
        }
    }
}
