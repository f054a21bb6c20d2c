// Elementwise loops over raw buffers: vector bodies, a padded final vector for the tail, and chunked
// parallelism for large arrays. No Tensor, no allocation, no autograd.

/// Loads and stores of whole vectors at arbitrary alignment.
@inlinable @inline(__always)
public func loadLanes<V: FloatLanes>(_ p: UnsafePointer<Float>, _ i: Int) -> V {
    UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
}

/// Writes all of `v`'s lanes to `p[i...]`, which need not be aligned.
@inlinable @inline(__always)
public func storeLanes<V: FloatLanes>(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self)
}

/// Eight floats from `p[i...]`: `loadLanes` fixed to one AVX register.
@inlinable @inline(__always)
public func load8(_ p: UnsafePointer<Float>, _ i: Int) -> Float8 { loadLanes(p, i) }

/// Writes eight floats to `p[i...]`: `storeLanes` fixed to one AVX register.
@inlinable @inline(__always)
public func store8(_ v: Float8, _ p: UnsafeMutablePointer<Float>, _ i: Int) { storeLanes(v, p, i) }

/// Loads `count` floats, fewer than a vector holds, into the low lanes (the rest are zero).
@inlinable @inline(__always)
public func loadPartial<V: FloatLanes>(_ p: UnsafePointer<Float>, _ i: Int, _ count: Int) -> V {
    var v = V()
    for lane in 0..<count { v[lane] = p[i + lane] }
    return v
}

/// Writes the low `count` lanes of `v` to `p[i...]`: the tail a whole vector would overrun.
@inlinable @inline(__always)
public func storePartial<V: FloatLanes>(
    _ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ count: Int
) {
    for lane in 0..<count { p[i + lane] = v[lane] }
}

/// A function of a vector of lanes that `Elementwise.map` inlines into its loop.
///
/// Why a type and not only closures: a closure handed to the parallel loop stays a call through a
/// pointer once per vector (LLVM neither inlines it into the loop closure that captures it nor
/// keeps specialised copies apart), while a conforming type's method is resolved when the generic
/// loop is specialised and inlined. The hot activations (exp, tanh, sigmoid, SiLU, GELU) are such
/// types, on the build's widest vector (`WideFloat`); other ops pass closures on eight lanes.
public protocol UnaryLaneFunction {
    associatedtype Lanes: FloatLanes
    func callAsFunction(_ x: Lanes) -> Lanes
}

/// A function of two vectors that `Elementwise.zip` inlines into its loop.
public protocol BinaryLaneFunction {
    associatedtype Lanes: FloatLanes
    func callAsFunction(_ x: Lanes, _ y: Lanes) -> Lanes
}

/// A closure as a lane function (called, not inlined).
@usableFromInline struct UnaryClosure: UnaryLaneFunction {
    @usableFromInline let body: (Float8) -> Float8
    @inlinable init(_ body: @escaping (Float8) -> Float8) { self.body = body }
    @inlinable func callAsFunction(_ x: Float8) -> Float8 { body(x) }
}

/// A closure as a two-argument lane function (called, not inlined).
@usableFromInline struct BinaryClosure: BinaryLaneFunction {
    @usableFromInline let body: (Float8, Float8) -> Float8
    @inlinable init(_ body: @escaping (Float8, Float8) -> Float8) { self.body = body }
    @inlinable func callAsFunction(_ x: Float8, _ y: Float8) -> Float8 { body(x, y) }
}

/// Elementwise kernels over contiguous float32 buffers.
public enum Elementwise {
    /// Elements per parallel chunk: below this, threads cost more than they save.
    public static let grain = 1 << 16

    /// y[i] = f(x[i]). `x` and `y` may be the same buffer.
    @inlinable @inline(__always)
    public static func map(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
        _ f: (Float8) -> Float8
    ) {
        withoutActuallyEscaping(f) { map(x, y, count: count, UnaryClosure($0)) }
    }

    /// y[i] = f(x[i]) with `f` inlined into the loop. `x` and `y` may be the same buffer.
    @inlinable @inline(__always)
    public static func map<F: UnaryLaneFunction>(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, _ f: F
    ) {
        let width = F.Lanes.scalarCount
        Parallel.forEachChunk(count, grain: grain) { range in
            var i = range.lowerBound
            while i + width <= range.upperBound {
                storeLanes(f(loadLanes(x, i)), y, i)
                i += width
            }
            let rest = range.upperBound - i
            if rest > 0 { storePartial(f(loadPartial(x, i, rest)), y, i, rest) }
        }
    }

    /// z[i] = f(x[i], y[i]).
    @inlinable @inline(__always)
    public static func zip(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
        count: Int, _ f: (Float8, Float8) -> Float8
    ) {
        withoutActuallyEscaping(f) { zip(x, y, z, count: count, BinaryClosure($0)) }
    }

    /// z[i] = f(x[i], y[i]) with `f` inlined into the loop.
    @inlinable @inline(__always)
    public static func zip<F: BinaryLaneFunction>(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
        count: Int, _ f: F
    ) {
        let width = F.Lanes.scalarCount
        Parallel.forEachChunk(count, grain: grain) { range in
            var i = range.lowerBound
            while i + width <= range.upperBound {
                storeLanes(f(loadLanes(x, i), loadLanes(y, i)), z, i)
                i += width
            }
            let rest = range.upperBound - i
            if rest > 0 {
                storePartial(f(loadPartial(x, i, rest), loadPartial(y, i, rest)), z, i, rest)
            }
        }
    }

    /// w[i] = f(x[i], y[i], z[i]).
    @inlinable @inline(__always)
    public static func zip3(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafePointer<Float>,
        _ w: UnsafeMutablePointer<Float>, count: Int, _ f: (Float8, Float8, Float8) -> Float8
    ) {
        Parallel.forEachChunk(count, grain: grain) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                store8(f(load8(x, i), load8(y, i), load8(z, i)), w, i)
                i += 8
            }
            let rest = range.upperBound - i
            if rest > 0 {
                let v = f(loadPartial(x, i, rest), loadPartial(y, i, rest), loadPartial(z, i, rest))
                storePartial(v, w, i, rest)
            }
        }
    }

    /// One row of a broadcast binary op: z[i] = f(x[i·xs], y[i·ys]) with strides 0 or 1.
    @inlinable @inline(__always)
    public static func zipRow(
        _ x: UnsafePointer<Float>, xStride: Int, _ y: UnsafePointer<Float>, yStride: Int,
        _ z: UnsafeMutablePointer<Float>, count: Int, _ f: (Float8, Float8) -> Float8
    ) {
        switch (xStride, yStride) {
        case (1, 1):
            var i = 0
            while i + 8 <= count {
                store8(f(load8(x, i), load8(y, i)), z, i)
                i += 8
            }
            if i < count {
                let v = f(loadPartial(x, i, count - i), loadPartial(y, i, count - i))
                storePartial(v, z, i, count - i)
            }
        case (1, 0):
            let b = Float8(repeating: y[0])
            var i = 0
            while i + 8 <= count {
                store8(f(load8(x, i), b), z, i)
                i += 8
            }
            if i < count { storePartial(f(loadPartial(x, i, count - i), b), z, i, count - i) }
        case (0, 1):
            let a = Float8(repeating: x[0])
            var i = 0
            while i + 8 <= count {
                store8(f(a, load8(y, i)), z, i)
                i += 8
            }
            if i < count { storePartial(f(a, loadPartial(y, i, count - i)), z, i, count - i) }
        default:
            let v = f(Float8(repeating: x[0]), Float8(repeating: y[0]))[0]
            for i in 0..<count { z[i] = v }
        }
    }
}
