import Testing

// Fashion-MNIST: IDX headers, split sizes, class balance and exact pixel statistics of the
// Debian-packaged files (the expected sums were computed with NumPy from the same files:
// `np.frombuffer(gzip.open(f).read()[16:], np.uint8).astype(np.float64).sum()`).
@testable import AttendData

private let imageAvailable = TestData.available(task: "image")

@Test(.enabled(if: imageAvailable, TestData.skipNote))
func fashionMNISTSplitsAndHeaders() throws {
    let task = try FashionMNISTTask()
    #expect(task.count(of: .train) == 54_000 && task.count(of: .validation) == 6_000)
    #expect(task.count(of: .test) == 10_000)
    #expect(task.maxLength == 784 && task.vocabularySize == 256 && task.classCount == 10)
    #expect(
        task.training.count == 60_000 && task.training.rows == 28 && task.training.columns == 28)
    // Every class has exactly 6,000 training and 1,000 test images.
    var trainClasses = [Int](repeating: 0, count: 10)
    for label in task.training.labels { trainClasses[Int(label)] += 1 }
    var testClasses = [Int](repeating: 0, count: 10)
    for label in task.testing.labels { testClasses[Int(label)] += 1 }
    #expect(trainClasses == [Int](repeating: 6_000, count: 10))
    #expect(testClasses == [Int](repeating: 1_000, count: 10))
}

@Test(.enabled(if: imageAvailable, TestData.skipNote))
func fashionMNISTPixelsMatchNumPy() throws {
    let task = try FashionMNISTTask()
    #expect(sum(task.training.pixels) == 3_431_114_169)  // mean 72.940
    #expect(sum(task.testing.pixels) == 573_469_082)  // mean 73.147
    let first = task.example(0, in: .train)
    #expect(first.label == 9 && first.tokens.reduce(0, +) == 76_247)
    let firstTest = task.example(0, in: .test)
    #expect(firstTest.label == 9 && firstTest.tokens.reduce(0, +) == 33_456)
    #expect(
        Array((0..<10).map { task.example($0, in: .test).label }) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    // Validation images are the last 6,000 of the training file.
    #expect(
        task.example(5_999, in: .validation).tokens
            == task.training.pixels[(59_999 * 784)..<(60_000 * 784)].map(Int.init))
}

@Test(.enabled(if: imageAvailable, TestData.skipNote))
func fashionMNISTSubsets() throws {
    let task = try FashionMNISTTask(.tiny)
    #expect(
        task.count(of: .train) == 512 && task.count(of: .validation) == 128
            && task.count(of: .test) == 128)
    var shuffled = FashionMNISTConfiguration.tiny
    shuffled.validationCount = 60_000
    #expect(throws: DataError.self) { try FashionMNISTTask(shuffled) }
}

@Test func idxHeadersAreChecked() throws {
    // Two 2 × 3 images: magic 0x00000803, sizes 2, 2, 3.
    let good: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3] + Array(1...12)
    let array = try IDXArray(good, dimensions: 3)
    #expect(array.shape == [2, 2, 3] && array.values == Array(1...12))
    #expect(throws: FormatError.self) { try IDXArray(good, dimensions: 1) }
    #expect(throws: FormatError.self) { try IDXArray(Array(good.dropLast()), dimensions: 3) }
    var wrongType = good
    wrongType[2] = 0x0D  // float32
    #expect(throws: FormatError.self) { try IDXArray(wrongType, dimensions: 3) }
    #expect(throws: FormatError.self) { try IDXArray([1, 2], dimensions: 1) }
}

private func sum(_ bytes: [UInt8]) -> Int {
    bytes.withUnsafeBufferPointer { buffer in
        var total = 0
        for byte in buffer { total &+= Int(byte) }
        return total
    }
}
