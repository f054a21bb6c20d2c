// Elementwise comparison that explains itself: shape first, then the worst element with its index,
// both values and the max absolute and relative differences.
import AttendCore

/// A failed numeric comparison, thrown so the test framework reports the message.
public struct NumericMismatch: Error, CustomStringConvertible {
    /// What went wrong, with the worst element.
    public let description: String
}

/// Throws unless `actual` and `expected` have the same shape and every element is within
/// `tolerance`.
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, _ tolerance: Tolerance, _ label: String = "",
    file: StaticString = #filePath, line: UInt = #line
) throws {
    guard actual.shape == expected.shape else {
        throw NumericMismatch(
            description:
                "\(label): shape \(actual.shape) differs from expected \(expected.shape) (\(file):\(line))"
        )
    }
    try assertClose(
        actual.scalars, expected.scalars, tolerance, label, shape: actual.shape, file: file,
        line: line)
}

/// Array form of `assertClose`; `shape` only improves the message.
public func assertClose(
    _ actual: [Float], _ expected: [Float], _ tolerance: Tolerance, _ label: String = "",
    shape: [Int]? = nil, file: StaticString = #filePath, line: UInt = #line
) throws {
    guard actual.count == expected.count else {
        throw NumericMismatch(
            description:
                "\(label): \(actual.count) values, expected \(expected.count) (\(file):\(line))")
    }
    var worst = -1
    var worstExcess: Float = 0
    var failures = 0
    var maxAbsolute: Float = 0
    var maxRelative: Float = 0
    for i in actual.indices {
        let a = actual[i], e = expected[i]
        let difference = Swift.abs(a - e)
        if difference.isFinite {
            maxAbsolute = Swift.max(maxAbsolute, difference)
            if e != 0 { maxRelative = Swift.max(maxRelative, difference / Swift.abs(e)) }
        }
        if !tolerance.accepts(a, e) {
            failures += 1
            let excess =
                difference.isNaN ? .infinity : difference - tolerance.relative * Swift.abs(e)
            if worst < 0 || excess > worstExcess {
                worst = i
                worstExcess = excess
            }
        }
    }
    guard worst >= 0 else { return }
    var position = "[\(worst)]"
    if let shape {
        var rest = worst
        var index = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() where shape[axis] > 0 {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        position = "\(index) (flat \(worst))"
    }
    throw NumericMismatch(
        description: """
            \(label): \(failures) of \(actual.count) elements outside tolerance (\(tolerance)); \
            worst at \(position): got \(actual[worst]), expected \(expected[worst]); \
            max abs diff \(maxAbsolute), max rel diff \(maxRelative) (\(file):\(line))
            """)
}
