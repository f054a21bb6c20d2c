import Testing

// Files written to hurt the readers (found by fuzzing and by hand): sizes that overflow or promise
// more than the file holds are refused with a format error, never a trap or a huge allocation.
@testable import AttendData

@Test func idxSizesThatOverflowAreRefused() {
    // Three dimensions of 2^32 − 1: the product overflows an Int.
    let overflowing = hexBytes("00000803" + String(repeating: "ff", count: 12))
    #expect(throws: FormatError.self) { try IDXArray(overflowing, dimensions: 3) }
    // A product that fits but exceeds the bytes present.
    let promising = hexBytes("00000802" + "00010000" + "00010000" + "0102")
    #expect(throws: FormatError.self) { try IDXArray(promising, dimensions: 2) }
    let twoByOne = hexBytes("00000802" + "00000002" + "00000001" + "0102")
    let exact = try? IDXArray(twoByOne, dimensions: 2)
    #expect(exact?.shape == [2, 1] && exact?.values == [1, 2])
}

@Test func pgmFieldsThatOverflowAreRefused() {
    for header in ["P5 99999999999999999999 1 255\n", "P5 4294967296 4294967296 255\n"] {
        #expect(throws: DataError.self, "\(header)") { try PGM.decode(Array(header.utf8)) }
    }
    let image = PGM.encode([1, 2, 3, 4, 5, 6], width: 3, height: 2)
    let decoded = try? PGM.decode(image)
    #expect(decoded?.width == 3 && decoded?.height == 2 && decoded?.pixels == [1, 2, 3, 4, 5, 6])
}

@Test func gzipChecksTheMagicNumberBeforeTheTrailer() {
    // The last four bytes claim a 4 GiB member; the magic number is wrong.
    #expect(throws: FormatError("not a gzip file (bad magic number at byte 0)")) {
        try Gzip.decompress([0x00, 0x00, 0x00, 0xFF, 0xFF])
    }
}

@Test func gzipSizeHintsAreBoundedByTheInput() throws {
    // A valid empty member (`gzip.compress(b"", mtime=0)`) whose trailer claims 4 GiB − 1 bytes: the
    // buffer reserved for it must stay within what 2 compressed bytes could inflate to.
    var lying = hexBytes("1f8b0800000000000203" + "0300" + "0000000000000000")
    lying.replaceSubrange((lying.count - 4)..., with: [0xFF, 0xFF, 0xFF, 0xFF])
    #expect(Gzip.outputSizeHint(lying) <= Inflate.largestOutput(compressedBytes: lying.count))
    #expect(throws: FormatError.self) { try Gzip.decompress(lying) }
    let honest = hexBytes("1f8b0800000000000203" + "0300" + "0000000000000000")
    #expect(Gzip.outputSizeHint(honest) == 0)
    #expect(try Gzip.decompress(honest) == [])
}
