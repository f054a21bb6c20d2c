// Data files written to hurt, met the way a user meets them: `attend train --task image` over an
// $ATTEND_DATA folder holding a crafted Fashion-MNIST file. Each is one line and exit status 1,
// under a memory limit too (a reader that believes a size field would abort there).
import Foundation
import Testing

@Suite(.serialized) struct HostileDataCommandLineTests {
    /// `attend train --task image` with `images` as the training images file, its address space
    /// limited to `memoryKiB`.
    func trainOnImages(_ images: [UInt8], memoryKiB: Int) throws -> (status: Int32, output: String)
    {
        guard let attend = requireAttendExecutable() else { return (-1, "") }
        let folder = NSTemporaryDirectory() + "attend-hostile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(images).write(to: URL(fileURLWithPath: folder + "/train-images-idx3-ubyte.gz"))
        // A sanitizer reserves terabytes of address space for its shadow memory: no limit there
        // (`make sanitize` sets ATTEND_SANITIZER).
        let sanitized = ProcessInfo.processInfo.environment["ATTEND_SANITIZER"] != nil
        let limit = sanitized ? "" : "ulimit -v \(memoryKiB) && "
        let script =
            limit + "ATTEND_DATA='\(folder)' exec '\(attend)' train "
            + "--task image --preset tiny --steps 1 --out '\(folder)/run'"
        return try runCommand("/bin/sh", ["-c", script], limit: 60)
    }

    @Test func idxSizesThatOverflowAreAnError() throws {
        // gzip of the IDX header 00 00 08 03 + twelve ff bytes: three dimensions of 2^32 − 1.
        let file = hexBytes("1f8b08000000000002036360e060fe8f0400480064a210000000")
        let result = try trainOnImages(file, memoryKiB: 4 << 20)
        #expect(result.status == 1, "\(result.output)")
        #expect(
            result.output.contains("train-images-idx3-ubyte.gz") && result.output.contains("IDX"))
        #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
    }

    @Test func gzipTrailerSizesAreNotBelieved() throws {
        // Five bytes whose "trailer" claims 4 GiB; 2 GiB of address space is plenty for the rest.
        let result = try trainOnImages([0x00, 0x00, 0x00, 0xFF, 0xFF], memoryKiB: 2 << 20)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("not a gzip file"), "\(result.output)")
    }
}

/// Bytes from a hex string.
private func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0..<($0 + 2)], as: UTF8.self), radix: 16)!
    }
}
