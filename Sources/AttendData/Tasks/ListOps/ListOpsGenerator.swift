// Random ListOps trees with LRA's distribution (`generate_tree` in long-range-arena
// `data/listops.py`): a node at depth d < maxDepth is a leaf with probability 1 − p (p = VALUE_P =
// 0.25), else an operator with k ~ U{2, …, maxArguments} children; at maxDepth it is always a leaf.
// The tree's length is its token count (1 per leaf, 2 per operator: the operator and its `]`).
// LRA keeps trees with minLength < length < maxLength (strict), which discards most draws.
//
// Speed: the draw is split in two passes. The first draws only the shape (leaf or arity per node,
// in preorder) and stops as soon as the length reaches maxLength, so oversized trees cost no more
// than the accepted ones. Only trees inside the band get the second pass, which draws digits and
// operators and evaluates the expression while writing its tokens. All draws are independent, so
// accepted trees have exactly the reference distribution; only the order of draws differs.

import AttendCore

/// Draws ListOps expressions whose length lies strictly inside a band.
struct ListOpsGenerator: Sendable {
    /// Deepest level a node may have (the root is at depth 1).
    let maxDepth: Int
    /// Most children an operator may have.
    let maxArguments: Int
    /// Exclusive lower length bound.
    let minLength: Int
    /// Exclusive upper length bound.
    let maxLength: Int
    /// Probability that a node above `maxDepth` is an operator (LRA's VALUE_P).
    let operatorProbability: Double

    /// A tree inside the band, drawing until one is accepted; also returns the number of draws.
    func next(using generator: inout RandomGenerator, scratch: inout Scratch) -> (
        tokens: [UInt8], label: Int, draws: Int
    ) {
        var draws = 0
        while true {
            draws += 1
            guard let length = drawShape(using: &generator, into: &scratch.arities) else {
                continue
            }
            if length <= minLength { continue }
            let (tokens, label) = fill(scratch.arities, length: length, using: &generator)
            return (tokens, label, draws)
        }
    }

    /// Preorder arities (0 = leaf) of one random shape; nil once the length reaches `maxLength`.
    func drawShape(using generator: inout RandomGenerator, into arities: inout [Int]) -> Int? {
        arities.removeAll(keepingCapacity: true)
        // Open operators as (depth of their children, children still to draw).
        var open: [(depth: Int, remaining: Int)] = []
        var depth = 1
        var length = 0
        while true {
            let isOperator =
                depth < maxDepth && generator.nextUniformDouble() < operatorProbability
            if isOperator {
                let children = 2 + generator.nextInt(below: maxArguments - 1)
                arities.append(children)
                length += 2
                open.append((depth + 1, children))
            } else {
                arities.append(0)
                length += 1
            }
            if length >= maxLength { return nil }
            while let last = open.last, last.remaining == 0 { open.removeLast() }
            guard !open.isEmpty else { return length }
            open[open.count - 1].remaining -= 1
            depth = open[open.count - 1].depth
        }
    }

    /// Draws the digits and operators of a shape, writes its tokens and evaluates it.
    func fill(_ arities: [Int], length: Int, using generator: inout RandomGenerator) -> (
        [UInt8], Int
    ) {
        var tokens = [UInt8]()
        tokens.reserveCapacity(length)
        // Open operators (at most maxDepth − 1): operator, children still to come, and the values
        // of the finished ones as a digit histogram (10 counts per open operator).
        var ops = [ListOps.Operator](repeating: .min, count: maxDepth)
        var remaining = [Int](repeating: 0, count: maxDepth)
        var histograms = [Int](repeating: 0, count: 10 * maxDepth)
        var top = -1
        var result = 0
        for arity in arities {
            var value: Int
            if arity == 0 {
                value = generator.nextInt(below: 10)
                tokens.append(UInt8(ListOps.digitBase + value))
            } else {
                let op = ListOps.Operator(rawValue: generator.nextInt(below: 4))!
                tokens.append(UInt8(ListOps.operatorBase + op.rawValue))
                top += 1
                ops[top] = op
                remaining[top] = arity
                for d in 0..<10 { histograms[10 * top + d] = 0 }
                continue
            }
            // A value is complete: hand it to its parent, closing every operator it completes.
            while true {
                if top < 0 {
                    result = value
                    break
                }
                histograms[10 * top + value] += 1
                remaining[top] -= 1
                if remaining[top] > 0 { break }
                tokens.append(UInt8(ListOps.closeID))
                value = Self.apply(ops[top], histogram: histograms[(10 * top)..<(10 * top + 10)])
                top -= 1
            }
        }
        return (tokens, result)
    }

    /// An operator applied to arguments given as counts per digit.
    static func apply(_ op: ListOps.Operator, histogram: ArraySlice<Int>) -> Int {
        let histogram = Array(histogram)
        switch op {
        case .min: return histogram.firstIndex { $0 > 0 }!
        case .max: return histogram.lastIndex { $0 > 0 }!
        case .sumModulo:
            return histogram.enumerated().reduce(0) { $0 + $1.offset * $1.element } % 10
        case .median:
            let count = histogram.reduce(0, +)
            // The digit at sorted position k (0-based).
            func at(_ k: Int) -> Int {
                var seen = 0
                for (digit, n) in histogram.enumerated() {
                    seen += n
                    if seen > k { return digit }
                }
                return 9
            }
            return count % 2 == 1 ? at(count / 2) : (at(count / 2 - 1) + at(count / 2)) / 2
        }
    }

    /// Reusable buffers for one generating thread.
    struct Scratch {
        var arities: [Int] = []
    }
}
