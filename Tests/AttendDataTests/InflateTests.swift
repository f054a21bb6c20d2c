import Testing

// The DEFLATE/gzip/dictzip readers against streams made by zlib (Python's `zlib` module, 1.2.13;
// the generating snippet is in each comment), covering all three block types, overlapping
// back-references, multiple members and integrity errors.
@testable import AttendData

/// Text used by the dynamic-block and dictzip vectors:
/// `"".join(f"line {i}: value {(i*i) % 97}\n" for i in range(150))`.
private let numberedLines = Array(
    (0..<150).map { "line \($0): value \(($0 * $0) % 97)\n" }.joined().utf8)

// gzip level 0 of bytes(range(256)) * 3: one stored block.
private let storedVector = hexBytes(
    "1f8b0800000000000403010003fffc"
        + String(repeating: (0..<256).map { String(format2($0)) }.joined(), count: 3)
        + "2adfc0b000030000")
// gzip level 9, strategy Z_FIXED, of b"abracadabra " * 20: fixed Huffman codes, copies overlapping
// their source.
private let fixedVector = hexBytes(
    "1f8b08000000000002034b4c2a4a4c4e4c4904520a8923800d0010683e80f0000000")
// gzip level 9 of `numberedLines`: one dynamic-Huffman block.
private let dynamicVector = hexBytes(
    "1f8b080000000000020365954d8e1d210c84f739c51c0103fecb6db2c862a4a7ec32e79f44cf2e5ac5aeb180"
        + "fe6cecaad7e79fdf1fe3e7c7d7afd7df7f1f3f5effd7d26b79af67aff77bbd7a9deff5c67e7b07b40353df01"
        + "ebc0aa1d8e2beb8ee880d54fb203511402cc550170ce3a2387d42b02569f15016d0740bbfa4fc0b5de03deac"
        + "8c04c0ab7140ec55c70962a97b2690b54e4d206795660279575a13c8d92f02e6ddf78039fb1498b579c01c15"
        + "00b2555a0bc8b32ab8801c756a0159bb21803c2bd105e4a8075e40b64a629daee8bf03597acf41aef2acc35c"
        + "910de65d841bccab783698a5f780b9af3955ae9a6e2047016e207bf73e90bdf700d9fb9ee4880e3ea5c237eb"
        + "e4bfeb6242dd94842ae7a9c6b550e77a69704d35b9ee36f86d4cf8fd6cf21bdbe23eb0cdbd62cafd64c63d67"
        + "ce7d69c1bd6b49eded8327c085a7c4274f922f9e36df3c91ae3cb56e3cd9ee3cfd1eac109eac223158694258"
        + "8d62b262c522518bcdba17cada18c6fa194e121bc12a1c7909f5602d4f61b9cfc98e908b4d2337d94a2af94e"
        + "1a19533a395706ef48ba43c6a0dfc810469171f1ca589c948ccd99cb502e8f0cbb9d8ceb2c232e2f1b7999d9"
        + "b140b8d9c3043b7275871c1784a11d1b84a33d8c100e6bdcb122575bcbf142c5c1e40191e3861b762d3c6a32"
        + "af7994638889839b275b8e2546478c1542e62523f230451c4c162479f86267fd30c67efd75e99f1c6b6c9194"
        + "e38d825dca722bc71d0da14bb8e5f8e30257b205c871c8beea38645b89eccb6fe478649b921c9774ec52b637"
        + "79f824427e1f8cfbfa7c407c030b5e36459d0a0000"
)
// A dictzip file of `numberedLines` with 512-byte chunks, each compressed with a full flush (the
// layout dictd's `dictzip` writes).
private let dictzipVector = hexBytes(
    "1f8b08040000000002031600524112000100000206009a009100990090009000380044d14b0e02310c03d03d"
        + "a7982390a4bf701b162c46aad8c1f901c536bbb1d5a6af9d7d3e1fc7f576bceffbf5fdb8ec5f3666abecccad"
        + "723067e5a6f5a38acec27b15834560c5d448cc582c060e49160b0a133350c8e9d8637fe94423eb7434d2b290"
        + "367892b8836be44ddcc8040e72249e784797d830c745eed8e522279ec6456eb8968b9cfc233237ce9139b94b"
        + "e64e8fcc0b457e000000ffff5c90b10d03310c03fb4ce111de9668d9bf4d8a2f023cd225f3a7a11840ed81a2"
        + "4e3adbf7797fae36f1b85fefabd971928c20e949d6221949e024a6a941e29ada2448323bc94c62b93d92f4cc"
        + "2cf54c92ad1e1297b3d3d0e56cf47139f7ccc8396ba4bc8d44ca8b822ee5e0592ee5c88c94237b762538ea14"
        + "7a6dc6a8db61d5105e8e00ea9d98f51788ffbf7e000000ffff44d0b90dc3301044d15c55b004f1d8cbdd3850"
        + "60407066d76f039a19a51fdce523b7f3f53e9ae5a37d9fe7e768eedb558a25517c67e91da5b34c4319dac333"
        + "537b0a65b18c81622cb6505c5389129a0a94dbccdb6ff3154264db51442e5c1522af892272e11121f2e294c8"
        + "85ef09918d7b44ee7868881cf4883c319532179e95323bf6a4cc13c2949947440e1691177e30ffe41f000000"
        + "ffff64d0bb0dc3400c03d03e53dc08e4fd2fdba47061c04817cf6fc0911840691ff4a174be8ecf96727d1cfb"
        + "7b4b733cd3794b31980e9326cba55bd3824b5d26d4986e925d7233292ef49aeae2639a061b74f518282f0c66"
        + "ac58610681b086608c42fce5254a3c8aa8f172a2c5f7103dfe90887f26143cabef177d1851d94776527889b2"
        + "17df4765efaafa66bf000000ffff44d0b90dc3301005d1dc55b004edc14bdd386020407026d7af44f3950e76"
        + "c9475eabccfa398fdf2a66752fffef79ad12416aa4be913ac99c3448558b9334db937c2365924c5346724d71"
        + "9687a6b498ba11974b3f28c2379ee8c27b27093fb4287ce5c210de7975083f2649f8c67b42f80011c29ba65e"
        + "3cdf15af5e49fa841ad2875cd21b53293d47e583bf010000ffff4b55b034e6cac9cc4b55303431b252284bcc"
        + "294d55b030850919c384cc2d6142267021b82a53b810dc2c334c21734c8d1698c65b223902000b5e36459d0a"
        + "0000"
)

private func format2(_ value: Int) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[value / 16], digits[value % 16]])
}

@Test func inflatesStoredBlocks() throws {
    #expect(try Gzip.decompress(storedVector) == Array((0..<768).map { UInt8($0 % 256) }))
}

@Test func inflatesFixedHuffmanWithOverlappingCopies() throws {
    #expect(
        try Gzip.decompress(fixedVector) == Array(String(repeating: "abracadabra ", count: 20).utf8)
    )
}

@Test func inflatesDynamicHuffman() throws {
    #expect(try Gzip.decompress(dynamicVector) == numberedLines)
}

@Test func inflatesConcatenatedMembers() throws {
    let both = try Gzip.decompress(fixedVector + dynamicVector)
    #expect(both == Array(String(repeating: "abracadabra ", count: 20).utf8) + numberedLines)
}

@Test func rejectsCorruptAndTruncatedStreams() throws {
    var corrupt = dynamicVector
    corrupt[corrupt.count - 9] ^= 0x01  // last DEFLATE byte: output or CRC no longer match
    #expect(throws: FormatError.self) { try Gzip.decompress(corrupt) }
    var badCRC = dynamicVector
    badCRC[badCRC.count - 8] ^= 0xFF
    #expect(throws: FormatError("CRC-32 mismatch: trailer says 1161191156, data gives 1161190923"))
    {
        try Gzip.decompress(badCRC)
    }
    #expect(throws: FormatError.self) { try Gzip.decompress(Array(dynamicVector.prefix(200))) }
    #expect(throws: FormatError.self) { try Gzip.decompress(Array("not gzip".utf8)) }
}

@Test func readsDictzipChunksAlone() throws {
    let layout = try Gzip.dictzipLayout(dictzipVector)
    #expect(layout.count == 6 && layout.chunkLength == 512)
    let chunks = try Gzip.dictzipChunks(dictzipVector, [0, 3, 5])
    #expect(chunks[0] == Array(numberedLines[0..<512]))
    #expect(chunks[1] == Array(numberedLines[1536..<2048]))
    #expect(chunks[2] == Array(numberedLines[2560...]))
    #expect(try Gzip.decompress(dictzipVector) == numberedLines)
    #expect(throws: FormatError.self) { try Gzip.dictzipChunks(dictzipVector, [6]) }
    #expect(throws: FormatError.self) { try Gzip.dictzipLayout(dynamicVector) }
}

@Test func crc32MatchesZlib() {
    // zlib.crc32(b"123456789") == 0xCBF43926, the standard check value.
    let check = Array("123456789".utf8).withUnsafeBufferPointer { CRC32.checksum($0) }
    #expect(check == 0xCBF4_3926)
    let long = numberedLines.withUnsafeBufferPointer { CRC32.checksum($0) }
    #expect(long == 1_161_190_923)
}
