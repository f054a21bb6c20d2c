// The attention graph of the Hypercube Transformer (Wang et al., ICML 2022, arXiv:2205.14014;
// mechanisms-a.md §3.2, the construction of yxzwang/Normalized-Information-Payload's
// `TesseractSparsityConfig`): m nodes (tokens, or blocks of tokens) are placed on the corners of a
// k = ⌈log₂ m⌉ dimensional hypercube by their reflected Gray code, and node p is joined to itself and to
// the k nodes whose code differs from its own in one bit. Consecutive positions differ in one bit of
// their Gray codes, so the local chain p−1, p, p+1 is part of the graph; any two nodes are at most k
// edges apart.
//
// When m is not a power of two the cube is padded to 2^k corners and the padding is masked out: a
// neighbour at position ≥ m is dropped (the reference substitutes the node itself, which the set
// collapses to the same thing). The causal graph keeps the neighbours at or before p.
// (The reference writes codes bit-reversed; relabelling bits does not change any neighbour set.)

/// Neighbour sets of the hypercube graph over m nodes.
public struct HypercubeGraph: Sendable, Equatable {
    /// m, the nodes (positions or blocks).
    public let nodes: Int
    /// k = ⌈log₂ m⌉, the cube's dimension (0 for a single node).
    public let dimension: Int
    /// Whether node p keeps only neighbours q ≤ p.
    public let isCausal: Bool
    /// Sorted neighbour set of each node, itself included.
    public let neighbours: [[Int]]

    /// The graph over `nodes` positions.
    public init(nodes: Int, causal: Bool = false) {
        precondition(nodes >= 1, "HypercubeGraph: needs at least one node, got \(nodes)")
        let k = Self.dimension(nodes: nodes)
        self.nodes = nodes
        dimension = k
        isCausal = causal
        neighbours = (0..<nodes).map { p in
            if causal { return Self.earlierNeighbours(of: p) }
            var set: Set<Int> = [p]
            for bit in 0..<k {
                let q = Self.position(ofCode: Self.grayCode(p) ^ (1 << bit))
                if q < nodes { set.insert(q) }
            }
            return set.sorted()
        }
    }

    /// k = ⌈log₂ m⌉ for m ≥ 1 nodes: the smallest k with 2^k ≥ m.
    public static func dimension(nodes m: Int) -> Int {
        m <= 1 ? 0 : Int.bitWidth - (m - 1).leadingZeroBitCount
    }

    /// Node p's neighbours at or before it, in order: its set in the causal graph of any node count
    /// above p (flipping a bit above p's highest one gives a later node), so decoding can list them
    /// without knowing the final length.
    public static func earlierNeighbours(of p: Int) -> [Int] {
        var set: Set<Int> = [p]
        var bit = 0
        while (1 << bit) <= p {
            let q = position(ofCode: grayCode(p) ^ (1 << bit))
            if q <= p { set.insert(q) }
            bit += 1
        }
        return set.sorted()
    }

    /// The reflected Gray code of p: p XOR (p >> 1).
    public static func grayCode(_ p: Int) -> Int { p ^ (p >> 1) }

    /// The position whose Gray code is `code` (the inverse of `grayCode`).
    public static func position(ofCode code: Int) -> Int {
        var p = code
        var shift = code >> 1
        while shift > 0 {
            p ^= shift
            shift >>= 1
        }
        return p
    }

    /// The largest neighbour set (k + 1 for a full cube).
    public var maximumDegree: Int { neighbours.map(\.count).max() ?? 0 }

    /// Neighbours as a [nodes, maximumDegree] table, −1 after each node's last neighbour.
    public var table: [Int32] {
        let width = maximumDegree
        return neighbours.flatMap { set in
            set.map(Int32.init) + [Int32](repeating: -1, count: width - set.count)
        }
    }

    /// For each node q, the (node p, slot s) pairs with neighbours[p][s] = q, as p·maximumDegree + s,
    /// in a [nodes, maximumDegree] table padded with −1 (each q appears in at most k + 1 sets).
    public var reverseTable: [Int32] {
        let width = maximumDegree
        var lists = [[Int32]](repeating: [], count: nodes)
        for (p, set) in neighbours.enumerated() {
            for (slot, q) in set.enumerated() { lists[q].append(Int32(p * width + slot)) }
        }
        return lists.flatMap { $0 + [Int32](repeating: -1, count: width - $0.count) }
    }

    /// reach[i][j]: whether node j's input can influence node i's output after `layers` stacked
    /// layers (paths of at most `layers` edges; every node keeps itself).
    public func reachable(within layers: Int) -> [[Bool]] {
        var reach = (0..<nodes).map { i in (0..<nodes).map { $0 == i } }
        for _ in 0..<layers {
            reach = neighbours.map { set in
                var row = [Bool](repeating: false, count: nodes)
                for q in set {
                    for j in 0..<nodes where reach[q][j] { row[j] = true }
                }
                return row
            }
        }
        return reach
    }
}
