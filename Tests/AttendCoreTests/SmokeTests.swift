import AttendCore
import AttendTesting
import Testing

@Test func addsTensors() throws {
    let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
    try assertClose(a + a, Tensor(shape: [2, 2], scalars: [2, 4, 6, 8]), .reordered)
}
