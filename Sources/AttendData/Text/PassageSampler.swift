// Splits by document region, and passages drawn inside one region. Every document is cut at 80%
// and 90% of its length: the first part serves training, the second validation, the last test.
// A passage lies inside one region of one document, so it never straddles documents, and train
// and test passages never share a byte. Works of every length take part in every split, and the
// test text is the end of each work (LRA's own splits are by document; ours must be by region
// because the Milton source has only four works).

import AttendCore

/// The byte range of each document that a split may draw from.
enum SplitRegions {
    /// Fraction of every document used for training, then for validation; the rest is test.
    static let trainFraction = 0.8
    static let validationFraction = 0.1

    /// Region of a document of `count` bytes that belongs to `split`.
    static func region(_ split: Split, count: Int) -> Range<Int> {
        let trainEnd = Int(Double(count) * trainFraction)
        let validationEnd = Int(Double(count) * (trainFraction + validationFraction))
        switch split {
        case .train: return 0..<trainEnd
        case .validation: return trainEnd..<validationEnd
        case .test: return validationEnd..<count
        }
    }
}

/// A passage: `range` of document `document`.
struct Passage: Equatable, Sendable {
    let document: Int
    let range: Range<Int>
}

/// Draws passages from the documents of a corpus, region by region.
struct PassageSampler: Sendable {
    let corpus: TextCorpus
    /// Document indices of each source, in corpus order.
    let documentsBySource: [TextSource: [Int]]

    init(_ corpus: TextCorpus) {
        self.corpus = corpus
        var bySource: [TextSource: [Int]] = [:]
        for (i, document) in corpus.documents.enumerated() {
            bySource[document.source, default: []].append(i)
        }
        documentsBySource = bySource
    }

    /// The region of document `index` for `split`.
    func region(_ index: Int, _ split: Split) -> Range<Int> {
        SplitRegions.region(split, count: corpus.documents[index].bytes.count)
    }

    /// Documents among `candidates` whose `split` region holds `length` bytes.
    func documents(_ candidates: [Int], holding length: Int, in split: Split) -> [Int] {
        candidates.filter { region($0, split).count >= length }
    }

    /// A document from `candidates` drawn in proportion to its number of start positions for a
    /// passage of `length` (so every placement in the pooled regions is equally likely); nil if
    /// no candidate region is long enough.
    func document(
        from candidates: [Int], length: Int, in split: Split, using random: inout RandomGenerator
    ) -> Int? {
        let starts = candidates.map { max(0, region($0, split).count - length + 1) }
        let total = starts.reduce(0, +)
        guard total > 0 else { return nil }
        var target = random.nextInt(below: total)
        for (candidate, n) in zip(candidates, starts) {
            if target < n { return candidate }
            target -= n
        }
        return nil
    }

    /// A uniformly placed passage of `length` bytes in `document`'s `split` region.
    func passage(
        in document: Int, length: Int, split: Split, using random: inout RandomGenerator
    ) -> Passage {
        let r = region(document, split)
        precondition(r.count >= length, "region too short for a passage of \(length) bytes")
        let start = r.lowerBound + random.nextInt(below: r.count - length + 1)
        return Passage(document: document, range: start..<(start + length))
    }

    /// Two non-overlapping passages in `document`'s `split` region, uniformly among all such
    /// placements, in random order.
    func twoPassages(
        in document: Int, lengths: (Int, Int), split: Split, using random: inout RandomGenerator
    ) -> (Passage, Passage) {
        let r = region(document, split)
        let slack = r.count - lengths.0 - lengths.1
        precondition(slack >= 0, "region too short for two passages")
        // Choose the two gaps before the first and second passage: u ≤ v in 0...slack.
        var u = random.nextInt(below: slack + 1)
        var v = random.nextInt(below: slack + 1)
        if u > v { swap(&u, &v) }
        let swapOrder = random.nextInt(below: 2) == 1
        let (firstLength, secondLength) = swapOrder ? (lengths.1, lengths.0) : lengths
        let first = r.lowerBound + u
        let second = r.lowerBound + firstLength + v
        let a = Passage(document: document, range: first..<(first + firstLength))
        let b = Passage(document: document, range: second..<(second + secondLength))
        return swapOrder ? (b, a) : (a, b)
    }

    /// The token ids of a passage.
    func tokens(_ passage: Passage) -> [Int] {
        ByteTokenizer.encode(corpus.documents[passage.document].bytes[passage.range])
    }
}
