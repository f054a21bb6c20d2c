// The unlabeled text `attend adapt` distils on: the offline corpora the tasks already use (the
// King James Bible and Shakespeare, alternating document by document) or the user's file, run
// through the model's own WordPiece tokenizer as one stream and cut into chunks of exactly
// `length` tokens ([CLS], length − 2 pieces, [SEP]), so no batch needs padding. Every tenth chunk
// is held out for measuring the student against the teacher; the rest are trained on. Only as
// much text is tokenized as the run can use.
import AttendData
import Foundation

/// Token chunks for adaptation: training chunks and held-out chunks.
public struct AdaptationTexts: Sendable {
    /// Chunks to train on, each `length` ids long.
    public let training: [[Int]]
    /// Chunks to measure on, never trained on.
    public let heldOut: [[Int]]

    /// One chunk in this many is held out.
    public static let heldOutStride = 10

    /// Chunks of `length` tokens from `documents`, tokenized by `tokenizer`, stopping once there
    /// are `trainingLimit` training chunks and `heldOutLimit` held-out ones (or the text ends).
    ///
    /// Throws when the text does not fill one training and one held-out chunk, naming `source`.
    public init(
        documents: [String], tokenizer: WordPieceTokenizer, length: Int, trainingLimit: Int,
        heldOutLimit: Int, source: String
    ) throws {
        let pieces = length - 2
        guard pieces > 0 else { throw TrainingError.incompatible("--length must be at least 3") }
        var training: [[Int]] = []
        var heldOut: [[Int]] = []
        var stream: [Int] = []
        var index = 0
        documents: for document in documents {
            stream += tokenizer.tokenIDs(document)
            var start = 0
            while stream.count - start >= pieces {
                let chunk =
                    [tokenizer.classifierID] + stream[start..<(start + pieces)] + [
                        tokenizer.separatorID
                    ]
                start += pieces
                if index % Self.heldOutStride == Self.heldOutStride - 1 {
                    if heldOut.count < heldOutLimit { heldOut.append(chunk) }
                } else if training.count < trainingLimit {
                    training.append(chunk)
                }
                index += 1
                if training.count == trainingLimit && heldOut.count == heldOutLimit {
                    break documents
                }
            }
            stream.removeFirst(start)
        }
        guard !training.isEmpty, !heldOut.isEmpty else {
            throw TrainingError.incompatible(
                "\(source) holds \(index) chunk(s) of \(length) tokens; adapting needs at least "
                    + "\(Self.heldOutStride) (one in \(Self.heldOutStride) is held out): give more "
                    + "text or a smaller --length")
        }
        self.training = training
        self.heldOut = heldOut
    }

    /// The corpora the tasks use (King James Bible and Shakespeare), documents alternating
    /// between the two sources so that any prefix of the stream mixes them.
    public static func defaultDocuments(files: DataFiles = DataFiles()) throws -> [String] {
        let corpus = try TextCorpus.load([.kjv, .shakespeare], files: files)
        let bible = corpus.documents.filter { $0.source == .kjv }
        let plays = corpus.documents.filter { $0.source == .shakespeare }
        var documents: [String] = []
        for i in 0..<max(bible.count, plays.count) {
            for source in [bible, plays] where i < source.count {
                documents.append(String(decoding: source[i].bytes, as: UTF8.self))
            }
        }
        return documents
    }

    /// The documents of a plain UTF-8 file: paragraphs separated by blank lines.
    public static func documents(inFile path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.run("cannot read --texts \(path): no such readable file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TrainingError.run("--texts \(path) is not UTF-8 text")
        }
        return text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")
            .filter { !$0.allSatisfy(\.isWhitespace) }
    }
}
