// The vector types the transcendental functions (VectorMath) and the activation loops are written
// over, so one source serves eight lanes (one AVX register) and sixteen (one AVX-512 register).
//
// Why a protocol of its own and not `SIMD`: code generic over `SIMD` calls the standard library's
// generic lane-by-lane operators, which stay scalar loops after specialisation (measured: exact
// GELU at 0.7 Gelem/s instead of 1.7). The requirements below are the concrete vector operations;
// `SIMD8<Float>` and `SIMD16<Float>` satisfy them with their own, so generic code specialised for
// either compiles to the same instructions as code written for that type.

/// Float32 lanes with the operations the vector math needs.
public protocol FloatLanes: BitwiseCopyable {
    associatedtype Mask
    static var scalarCount: Int { get }
    init()
    init(repeating value: Float)
    subscript(index: Int) -> Float { get set }

    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    static prefix func - (a: Self) -> Self
    static func + (a: Self, b: Float) -> Self
    static func + (a: Float, b: Self) -> Self
    static func - (a: Self, b: Float) -> Self
    static func - (a: Float, b: Self) -> Self
    static func * (a: Self, b: Float) -> Self
    static func * (a: Float, b: Self) -> Self
    static func / (a: Float, b: Self) -> Self

    static func .< (a: Self, b: Self) -> Mask
    static func .> (a: Self, b: Self) -> Mask
    static func .< (a: Self, b: Float) -> Mask
    static func .> (a: Self, b: Float) -> Mask
    static func .!= (a: Self, b: Self) -> Mask
    func replacing(with other: Self, where mask: Mask) -> Self
    func replacing(with other: Float, where mask: Mask) -> Self
    mutating func replace(with other: Self, where mask: Mask)
    mutating func replace(with other: Float, where mask: Mask)

    /// self + a·b with one rounding.
    func addingProduct(_ a: Self, _ b: Self) -> Self

    /// self·2ⁿ where the integer n sits in the low mantissa bits of `rounded` (a float to which
    /// 1.5·2²³ was added, see `VectorMath.roundingMagic`): n shifted into the exponent field.
    /// Exact while the result stays a normal float.
    func scaled(byIntegerIn rounded: Self) -> Self

    /// |self| by clearing the sign bits (NaN stays NaN).
    var magnitude: Self { get }

    /// self with the low 12 mantissa bits cleared: its square is exact in float32.
    var upperHalf: Self { get }
}

extension SIMD8: FloatLanes where Scalar == Float {
    /// self·2ⁿ for the integer n held in `rounded` (see `FloatLanes.scaled(byIntegerIn:)`).
    @inlinable @inline(__always)
    public func scaled(byIntegerIn rounded: Self) -> Self {
        // The magic constant's own bits vanish in the shift (0x4B40_0000 << 23 ≡ 0 mod 2³²), so
        // shifting the sum's bits by 23 leaves n·2²³ alone.
        let exponentStep = unsafeBitCast(rounded, to: SIMD8<Int32>.self) &<< 23
        return unsafeBitCast(
            unsafeBitCast(self, to: SIMD8<Int32>.self) &+ exponentStep, to: Self.self)
    }

    /// |self| by clearing the sign bits.
    @inlinable @inline(__always)
    public var magnitude: Self {
        unsafeBitCast(unsafeBitCast(self, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Self.self)
    }

    /// self with the low 12 mantissa bits cleared.
    @inlinable @inline(__always)
    public var upperHalf: Self {
        unsafeBitCast(unsafeBitCast(self, to: SIMD8<UInt32>.self) & 0xFFFF_F000, to: Self.self)
    }
}

extension SIMD16: FloatLanes where Scalar == Float {
    /// self·2ⁿ for the integer n held in `rounded` (see `FloatLanes.scaled(byIntegerIn:)`).
    @inlinable @inline(__always)
    public func scaled(byIntegerIn rounded: Self) -> Self {
        let exponentStep = unsafeBitCast(rounded, to: SIMD16<Int32>.self) &<< 23
        return unsafeBitCast(
            unsafeBitCast(self, to: SIMD16<Int32>.self) &+ exponentStep, to: Self.self)
    }

    /// |self| by clearing the sign bits.
    @inlinable @inline(__always)
    public var magnitude: Self {
        unsafeBitCast(unsafeBitCast(self, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Self.self)
    }

    /// self with the low 12 mantissa bits cleared.
    @inlinable @inline(__always)
    public var upperHalf: Self {
        unsafeBitCast(unsafeBitCast(self, to: SIMD16<UInt32>.self) & 0xFFFF_F000, to: Self.self)
    }
}

// The widest vector the build targets: sixteen lanes where the build enables AVX-512
// (`ATTEND_AVX512`, which the Makefile sets when the target has avx512f), eight elsewhere —
// sixteen-lane code on a machine with 256-bit registers runs as pairs of halves and spills.
// The activation loops (`Elementwise.map` and `zip` with lane functions) step by it.
#if ATTEND_AVX512
    /// The widest vector this build targets: sixteen lanes, one AVX-512 register.
    public typealias WideFloat = SIMD16<Float>
#else
    /// The widest vector this build targets: eight lanes, one AVX register.
    public typealias WideFloat = SIMD8<Float>
#endif
