// The PNG reader against images written by an independent encoder (Python's zlib and the filter
// code in scripts/fixtures/png_fixtures.py): every colour type it accepts, sub-byte depths, all
// five row filters, a zlib stream split over two IDAT chunks and an ancillary chunk to skip; and
// the errors for interlaced, corrupted and non-PNG files.
import Foundation
import Testing

@testable import AttendData

/// The fixture images, base64, from `python3 scripts/fixtures/png_fixtures.py`.
private let fixtures: [String: String] = [
    "grey8":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAECAAAAABjWKqcAAAAJHRFWHRDb21tZW50AGFuY2lsbGFyeSBj"
        + "aHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mNgUPXKvgaQWQAAABVJREFUn8LorgoETO4gwNxn"
        + "ZrbNDAA8sgWdlCSTOAAAAABJRU5ErkJggg==",
    "grey4":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAEBAAAAACmqEedAAAAJHRFWHRDb21tZW50AGFuY2lsbGFyeSBj"
        + "aHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mNgXe/A5iYQzwAAABFJREFUWDNrFlN6eQHzy0Y2"
        + "ACmlBWkhlm87AAAAAElFTkSuQmCC",
    "greyAlpha":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAECAQAAADsOj3LAAAAJHRFWHRDb21tZW50AGFuY2lsbGFyeSBj"
        + "aHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mNgSFXtpz5rEwAAAB5JREFU8lqff2XKT0b3NapQ"
        + "wOQOB8x9B82AYBsQAwA1KQ1EId7e7wAAAABJRU5ErkJggg==",
    "rgb":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAECAIAAADJUWIXAAAAJHRFWHRDb21tZW50AGFuY2lsbGFyeSBj"
        + "aHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mNgSD2lch1DHgAAACVJREFU2vXea71I/hXLKT/j"
        + "GN3XCKoiASZ3VMDcd7DYDAy2gQkAlHkTe7eQDeIAAAAASUVORK5CYII=",
    "rgba":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAECAYAAABGM/VAAAAAJHRFWHRDb21tZW50AGFuY2lsbGFyeSBj"
        + "aHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mNgSD2lch1DHgAAADBJREFUr9r1PsRrvUhl/hXL"
        + "eVN+xh1mdF8jWKaKBpjcsQDmvoPFy8zMzLaZwQggCQCJ1xpDcWWKvgAAAABJRU5ErkJggg==",
    "palette8":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAECAMAAABx7QVyAAAADFBMVEUA/wAo1wdQrw54hxWCX2EAAAAA"
        + "JHRFWHRDb21tZW50AGFuY2lsbGFyeSBjaHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mNgYGRi"
        + "KjrlSAAAABZJREFUBmLGv4yMTP/+MTH9YwZiBiYALugFEd2xzXUAAAAASUVORK5CYII=",
    "palette2":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAEAgMAAAA7XR3TAAAADFBMVEUA/wAo1wdQrw54hxWCX2EAAAAA"
        + "JHRFWHRDb21tZW50AGFuY2lsbGFyeSBjaHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mOQZmDc"
        + "4GTU0gAAAA1JREFUeJ4pq4F5iQYAEgYDWDJhS00AAAAASUVORK5CYII=",
    "interlaced":
        "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAECAAAAAEUX5oKAAAAJHRFWHRDb21tZW50AGFuY2lsbGFyeSBj"
        + "aHVua3MgYXJlIHNraXBwZWQXJBj8AAAAB0lEQVR42mNgUPXKvgaQWQAAABVJREFUn8LorgoETO4gwNxn"
        + "ZrbNDAA8sgWdlCSTOAAAAABJRU5ErkJggg==",

]

/// The bytes of fixture image `name` (also used by the image-folder tests).
func pngFixture(_ name: String) -> [UInt8] { [UInt8](Data(base64Encoded: fixtures[name]!)!) }

/// The sample the generator wrote at (x, y) in channel c.
func fixtureSample(_ x: Int, _ y: Int, _ c: Int) -> UInt8 {
    UInt8((37 * x + 71 * y + 101 * c) % 256)
}

/// The expected 5×4 image: `channels` of the generator's samples, each mapped by `map`.
private func expected(channels: Int, _ map: (Int, Int, Int) -> UInt8) -> [UInt8] {
    (0..<4).flatMap { y in (0..<5).flatMap { x in (0..<channels).map { c in map(x, y, c) } } }
}

@Suite struct PNGTests {
    @Test func greyRGBAndAlphaImagesDecodeToTheirSamples() throws {
        let grey = try PNG.decode(pngFixture("grey8"))
        #expect(
            grey
                == DecodedImage(
                    width: 5, height: 4, channels: 1, samples: expected(channels: 1, fixtureSample))
        )
        let rgb = try PNG.decode(pngFixture("rgb"))
        #expect(
            rgb
                == DecodedImage(
                    width: 5, height: 4, channels: 3, samples: expected(channels: 3, fixtureSample))
        )
        // Alpha is dropped: grey + alpha → grey, RGBA → RGB.
        #expect(try PNG.decode(pngFixture("greyAlpha")) == grey)
        #expect(try PNG.decode(pngFixture("rgba")) == rgb)
    }

    @Test func subByteGreyIsScaledToEightBits() throws {
        let image = try PNG.decode(pngFixture("grey4"))
        #expect(
            image.samples == expected(channels: 1) { x, y, c in (fixtureSample(x, y, c) % 16) * 17 }
        )
    }

    @Test func paletteImagesBecomeRGB() throws {
        let palette: [[UInt8]] = (0..<4).map { (i: Int) -> [UInt8] in
            let red = UInt8(40 * i), green = UInt8(255 - 40 * i), blue = UInt8(7 * i)
            return [red, green, blue]
        }
        let rgb = expected(channels: 3) { x, y, c in palette[(x + 2 * y) % 4][c] }
        for name in ["palette8", "palette2"] {
            let image = try PNG.decode(pngFixture(name))
            #expect(image.channels == 3 && image.samples == rgb, "\(name)")
        }
    }

    @Test func planarOrderPutsEachChannelTogether() throws {
        let rgb = try PNG.decode(pngFixture("rgb"))
        let planar = rgb.planar
        #expect(planar.count == 60)
        #expect(
            Array(planar[0..<20]) == expected(channels: 1) { x, y, _ in fixtureSample(x, y, 0) })
        #expect(
            Array(planar[40..<60]) == expected(channels: 1) { x, y, _ in fixtureSample(x, y, 2) })
    }

    @Test func unsupportedAndDamagedFilesAreNamedErrors() throws {
        #expect(
            throws: FormatError(
                "interlaced (Adam7) PNG is not supported; save it without interlacing")
        ) {
            try PNG.decode(pngFixture("interlaced"))
        }
        var corrupt = pngFixture("grey8")
        corrupt[corrupt.count - 20] ^= 0xFF  // inside the last IDAT chunk
        #expect(throws: FormatError.self) { try PNG.decode(corrupt) }
        #expect(throws: FormatError("not a PNG file (signature missing)")) {
            try PNG.decode(Array("P5".utf8))
        }
        #expect(throws: FormatError("file ends before IEND (truncated)")) {
            try PNG.decode(Array(pngFixture("grey8").prefix(35)))
        }
    }
}
