// A reader for tar archives (POSIX ustar, with GNU long names and pax headers skipped), enough to
// take text files out of a Python source distribution without unpacking it to disk.

/// Regular files in a tar archive.
enum Tar {
    /// Every regular file: its path and contents, in archive order.
    static func files(_ archive: [UInt8]) throws(FormatError) -> [(path: String, bytes: [UInt8])] {
        var result: [(path: String, bytes: [UInt8])] = []
        var offset = 0
        var longName: String?
        while offset + 512 <= archive.count {
            let header = archive[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }  // end-of-archive marker
            guard let size = octal(header, 124, 12) else {
                throw FormatError("bad size field in tar header at byte \(offset)")
            }
            let dataStart = offset + 512
            guard dataStart + size <= archive.count else {
                throw FormatError("tar entry at byte \(offset) runs past the end (truncated file)")
            }
            let type = header[header.startIndex + 156]
            let data = Array(archive[dataStart..<(dataStart + size)])
            switch type {
            case UInt8(ascii: "L"):  // GNU: the next entry's long name
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                var path = longName ?? text(header, 0, 100)
                let prefix = text(header, 345, 155)
                if longName == nil && !prefix.isEmpty && text(header, 257, 5) == "ustar" {
                    path = prefix + "/" + path
                }
                result.append((path, data))
                longName = nil
            default:
                longName = nil  // directories, links, pax headers: nothing to extract
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        return result
    }

    private static func text(_ header: ArraySlice<UInt8>, _ start: Int, _ length: Int) -> String {
        let field = header[(header.startIndex + start)..<(header.startIndex + start + length)]
        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }

    private static func octal(_ header: ArraySlice<UInt8>, _ start: Int, _ length: Int) -> Int? {
        var value = 0
        var digits = 0
        for byte in header[(header.startIndex + start)..<(header.startIndex + start + length)] {
            if byte == 0 || byte == 32 {
                if digits > 0 { break } else { continue }
            }
            guard byte >= 48 && byte <= 55 else { return nil }
            value = value * 8 + Int(byte - 48)
            digits += 1
        }
        return value
    }
}
