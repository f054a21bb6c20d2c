// SentencePiece Unigram segmentation (Kudo 2018; google/sentencepiece, unigram_model.cc's
// optimised encoder), as `SentencePieceProcessor.encode` gives it: the normalised text is cut into
// the pieces whose scores (log-probabilities) sum highest, found by Viterbi over byte positions.
// User-defined symbols score length · (highest NORMAL score) − 0.1, so they always win; a
// character that no piece covers is one unknown node scoring (lowest NORMAL score) − 10. In the
// result, a run of unknown characters becomes one unknown id, or, with byte fallback, the byte
// pieces <0x..> of its UTF-8 bytes. Path scores are kept in Float and compared as the reference
// does, so ties break the same way (the first path found wins).
// Reading the model file: SentencePieceModel.swift; normalisation: SentencePieceNormalizer.swift.

/// A SentencePiece Unigram tokenizer (DeBERTa-v2/v3's `spm.model`).
///
/// ```swift
/// let tokenizer = try SentencePieceTokenizer(modelFile: "deberta-v3-small/spm.model")
/// tokenizer.pieceIDs("The quick brown fox.")       // the ids sentencepiece's encode gives
/// tokenizer.id(ofPiece: "[CLS]")                   // 1
/// ```
public struct SentencePieceTokenizer: Sendable {
    /// The vocabulary and options read from the model file.
    public let model: SentencePieceModel
    /// The unknown piece's id.
    public let unknownID: Int
    private let normalizer: SentencePieceNormalizer
    /// NORMAL, USER_DEFINED and UNUSED pieces: what segmentation may match.
    private let matchable: PieceTrie
    /// Ids of the byte pieces <0x00>…<0xFF> (the unknown id where one is missing).
    private let byteIDs: [Int]
    private let unknownScore: Float, highestScore: Float
    private let ids: [[UInt8]: Int]

    /// The tokenizer of the model file at `path`.
    public init(modelFile path: String) throws {
        try self.init(model: try SentencePieceModel(contentsOf: path), path: path)
    }

    /// The tokenizer of `model`; `path` names its file in errors.
    public init(model: SentencePieceModel, path: String) throws {
        self.model = model
        normalizer = try SentencePieceNormalizer(model, path: path)
        var ids: [[UInt8]: Int] = [:]
        for (id, piece) in model.pieces.enumerated() { ids[piece.bytes] = id }
        self.ids = ids
        let unknownID = model.pieces.firstIndex { $0.type == .unknown } ?? 0  // checked on reading
        self.unknownID = unknownID
        matchable = PieceTrie(
            model.pieces.enumerated().filter {
                [SentencePieceType.normal, .userDefined, .unused].contains($0.element.type)
            }.map { ($0.element.bytes, $0.offset) })
        let normalScores = model.pieces.filter { $0.type == .normal }.map(\.score)
        // sentencepiece starts from FLT_MAX and FLT_MIN (the smallest positive normal float).
        unknownScore = (normalScores.min() ?? .greatestFiniteMagnitude) - 10
        highestScore = Swift.max(normalScores.max() ?? 0, .leastNormalMagnitude)
        byteIDs = (0..<256).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            let name = "<0x" + (hex.count == 1 ? "0" : "") + hex + ">"
            guard let id = ids[Array(name.utf8)], model.pieces[id].type == .byte else {
                return unknownID
            }
            return id
        }
    }

    /// Number of pieces: every id is below it.
    public var pieceCount: Int { model.pieces.count }

    /// The id of the piece written `piece`, or nil.
    public func id(ofPiece piece: String) -> Int? { ids[Array(piece.utf8)] }

    /// The normalised text as sentencepiece segments it (UTF-8, spaces as "▁").
    public func normalized(_ text: String) -> String {
        String(decoding: normalizer.normalize(Array(text.utf8)), as: UTF8.self)
    }

    /// The piece ids of `text`, without any special tokens.
    public func pieceIDs(_ text: String) -> [Int] {
        let bytes = normalizer.normalize(Array(text.utf8))
        var ids: [Int] = []
        var previousUnknown = false
        for (range, id) in segments(bytes) {
            guard id == unknownID else {
                ids.append(id)
                previousUnknown = false
                continue
            }
            if model.byteFallback {
                ids += bytes[range].map { byteIDs[Int($0)] }
            } else if !previousUnknown {  // a run of unknown characters is one unknown id
                ids.append(unknownID)
                previousUnknown = true
            }
        }
        return ids
    }

    /// The best segmentation of `bytes` as (byte range, piece id), in order.
    private func segments(_ bytes: [UInt8]) -> [(Range<Int>, Int)] {
        let n = bytes.count
        // For each end position: the best path's score, its last piece and where that starts.
        var score = [Float](repeating: 0, count: n + 1)
        var piece = [Int](repeating: -1, count: n + 1)
        var start = [Int](repeating: -1, count: n + 1)
        // The reference compares in double precision and keeps floats.
        func offer(_ candidate: Double, to end: Int, piece id: Int, from begin: Int) {
            if start[end] == -1 || candidate > Double(score[end]) {
                (score[end], piece[end], start[end]) = (Float(candidate), id, begin)
            }
        }
        var begin = 0
        while begin < n {
            let characterLength = Swift.min(utf8Length(leadingByte: bytes[begin]), n - begin)
            var coversCharacter = false
            matchable.forEachMatch(in: bytes, at: begin) { id, length in
                let entry = model.pieces[id]
                guard entry.type != .unused else { return }
                let pieceScore =
                    entry.type == .userDefined
                    ? Double(Float(length) * highestScore) - 0.1 : Double(entry.score)
                let candidate = pieceScore + Double(score[begin])
                offer(candidate, to: begin + length, piece: id, from: begin)
                if length == characterLength { coversCharacter = true }
            }
            if !coversCharacter {
                offer(
                    Double(unknownScore + score[begin]), to: begin + characterLength,
                    piece: unknownID, from: begin)
            }
            begin += characterLength
        }
        var result: [(Range<Int>, Int)] = []
        var end = n
        while end > 0 {
            result.append((start[end]..<end, piece[end]))
            end = start[end]
        }
        return result.reversed()
    }
}

/// A byte trie over pieces, in flat arrays (the children of a node are a sorted run of edges), for
/// finding every piece that starts at a position of a text.
struct PieceTrie: Sendable {
    /// Per node: its first edge, its edge count and the id of the piece ending there (−1: none).
    private let firstEdge: [Int32], edgeCount: [Int32], pieceID: [Int32]
    /// Per edge: its byte and the node it leads to.
    private let edgeByte: [UInt8], edgeTarget: [Int32]

    /// A trie of `pieces` (distinct byte strings with their ids).
    init(_ pieces: [([UInt8], Int)]) {
        let sorted = pieces.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        var (firstEdge, edgeCount, pieceID): ([Int32], [Int32], [Int32]) = ([0], [0], [-1])
        var (edgeByte, edgeTarget): ([UInt8], [Int32]) = ([], [])
        // (node, the pieces sharing its prefix, the prefix's length): no recursion, so a piece
        // of any length cannot exhaust the stack.
        var work = [(0, 0..<sorted.count, 0)]
        while let item = work.popLast() {
            let (node, range, depth) = item
            var index = range.lowerBound
            // The piece ending here (the first, were a piece repeated).
            while index < range.upperBound && sorted[index].0.count == depth {
                if pieceID[node] < 0 { pieceID[node] = Int32(sorted[index].1) }
                index += 1
            }
            firstEdge[node] = Int32(edgeByte.count)
            while index < range.upperBound {
                let byte = sorted[index].0[depth]
                var next = index + 1
                while next < range.upperBound && sorted[next].0[depth] == byte { next += 1 }
                firstEdge.append(0)
                edgeCount.append(0)
                pieceID.append(-1)
                edgeByte.append(byte)
                edgeTarget.append(Int32(pieceID.count - 1))
                work.append((pieceID.count - 1, index..<next, depth + 1))
                index = next
            }
            edgeCount[node] = Int32(edgeByte.count) - firstEdge[node]
        }
        (self.firstEdge, self.edgeCount, self.pieceID) = (firstEdge, edgeCount, pieceID)
        (self.edgeByte, self.edgeTarget) = (edgeByte, edgeTarget)
    }

    /// Calls `found(id, length)` for every piece that `text[position...]` starts with, shortest
    /// first.
    func forEachMatch(in text: [UInt8], at position: Int, _ found: (Int, Int) -> Void) {
        var node = 0
        for index in position..<text.count {
            guard let next = child(of: node, text[index]) else { return }
            node = next
            if pieceID[node] >= 0 { found(Int(pieceID[node]), index - position + 1) }
        }
    }

    /// The longest piece that `text[position...]` starts with.
    func longestMatch(in text: [UInt8], at position: Int) -> (id: Int, length: Int)? {
        var longest: (id: Int, length: Int)?
        forEachMatch(in: text, at: position) { longest = ($0, $1) }
        return longest
    }

    /// The node `byte` leads to from `node`, by binary search over its edges.
    private func child(of node: Int, _ byte: UInt8) -> Int? {
        var (low, high) = (Int(firstEdge[node]), Int(firstEdge[node] + edgeCount[node]))
        while low < high {
            let middle = (low + high) / 2
            if edgeByte[middle] < byte { low = middle + 1 } else { high = middle }
        }
        return low < Int(firstEdge[node] + edgeCount[node]) && edgeByte[low] == byte
            ? Int(edgeTarget[low]) : nil
    }
}
