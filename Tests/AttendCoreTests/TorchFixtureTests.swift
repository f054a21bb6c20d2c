// AttendCore ops against PyTorch: values and input gradients from scripts/fixtures/core.py
// (Fixtures/*.safetensors). Each case stores an input, PyTorch's output, a random upstream gradient
// and the input gradient for that upstream (computed in float64, rounded to float32); Attend's
// gradients are taken with the same upstream as the backward seed. Tolerance: `.reference`.
import AttendCore
import AttendTesting
import Testing

/// One fixture file, read by tensor name.
private struct Fixture {
    let file: SafetensorsFile

    init(_ name: String) throws { file = try SafetensorsFile(path: try fixturePath(name)) }

    func callAsFunction(_ name: String) throws -> Tensor { try file.tensor(name) }

    /// `op`'s output and input gradient at `<name>.input`, seeded with `<name>.upstream`.
    func evaluate(_ name: String, _ op: (Tensor) -> Tensor) throws -> (
        output: Tensor, inputGrad: Tensor
    ) {
        let x = try self("\(name).input").requiringGradient()
        let y = op(x)
        let dx = gradients(of: y, withRespectTo: [x], seed: try self("\(name).upstream"))[0]
        return (y.detached(), dx)
    }

    /// Checks `op`'s output and input gradient against `<name>.output` and `<name>.input_grad`.
    func check(_ name: String, _ op: (Tensor) -> Tensor) throws {
        let (y, dx) = try evaluate(name, op)
        try assertClose(y, try self("\(name).output"), .reference, "\(name) output")
        try assertClose(dx, try self("\(name).input_grad"), .reference, "\(name) input gradient")
    }
}

/// The elementwise activations in Fixtures/activations.safetensors, by their fixture names.
enum ActivationCase: String, CaseIterable, Sendable {
    case geluExact = "gelu_exact", geluTanh = "gelu_tanh", silu, softplus, tanh, sigmoid

    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .geluExact: x.gelu(approximation: .none)
        case .geluTanh: x.gelu(approximation: .tanh)
        case .silu: x.silu()
        case .softplus: x.softplus()
        case .tanh: x.tanh()
        case .sigmoid: x.sigmoid()
        }
    }
}

/// Flags the elements of `x` whose row along `axis` is entirely −∞ (a fully masked row).
private func fullyMasked(_ x: Tensor, alongAxis axis: Int) -> [Bool] {
    let (outer, length, inner) = Shape.split(x.shape, at: axis)
    let values = x.scalars
    var flags = [Bool](repeating: false, count: values.count)
    for o in 0..<outer {
        for i in 0..<inner {
            let row = (0..<length).map { (o * length + $0) * inner + i }
            if row.allSatisfy({ values[$0] == -.infinity }) {
                for index in row { flags[index] = true }
            }
        }
    }
    return flags
}

@Suite struct TorchFixtureTests {
    @Test(arguments: ActivationCase.allCases)
    func activationMatchesPyTorch(_ activation: ActivationCase) throws {
        try Fixture("activations").check(activation.rawValue) { activation($0) }
    }

    /// Softmax over the last and a middle axis, with partly and fully −∞ rows. PyTorch returns NaN for
    /// a fully −∞ row; Attend returns zeros there (and a zero gradient), by design: such a row is an
    /// attention query with every key masked. The other rows must match PyTorch.
    @Test(arguments: [("last", 2), ("middle", 1)])
    func softmaxMatchesPyTorch(_ variant: String, _ axis: Int) throws {
        let fixture = try Fixture("softmax")
        let name = "softmax.\(variant)"
        let (y, dx) = try fixture.evaluate(name) { $0.softmax(alongAxis: axis) }
        let masked = fullyMasked(try fixture("\(name).input"), alongAxis: axis)
        #expect(masked.contains(true) && masked.contains(false))
        try compareUnmasked(y, try fixture("\(name).output"), masked, "\(name) output")
        try compareUnmasked(dx, try fixture("\(name).input_grad"), masked, "\(name) input gradient")
        for (i, isMasked) in masked.enumerated() where isMasked {
            #expect(y.scalars[i] == 0 && dx.scalars[i] == 0, "\(name): fully masked element \(i)")
        }
    }

    /// Log-softmax: partly −∞ rows give −∞ at the masked entries and the upstream gradient there;
    /// fully −∞ rows are NaN in PyTorch and are left out.
    @Test(arguments: [("last", 2), ("middle", 1)])
    func logSoftmaxMatchesPyTorch(_ variant: String, _ axis: Int) throws {
        let fixture = try Fixture("softmax")
        let name = "log_softmax.\(variant)"
        let (y, dx) = try fixture.evaluate(name) { $0.logSoftmax(alongAxis: axis) }
        let masked = fullyMasked(try fixture("\(name).input"), alongAxis: axis)
        try compareUnmasked(y, try fixture("\(name).output"), masked, "\(name) output")
        try compareUnmasked(dx, try fixture("\(name).input_grad"), masked, "\(name) input gradient")
    }

    @Test func logSumExpMatchesPyTorch() throws {
        let fixture = try Fixture("reductions")
        try fixture.check("logsumexp.axis1") { $0.logSumExp(alongAxis: 1) }
        try fixture.check("logsumexp.last") { $0.logSumExp(alongAxis: -1) }  // row 1 is partly −∞
    }

    @Test func cumulativeSumMatchesPyTorch() throws {
        let fixture = try Fixture("reductions")
        try fixture.check("cumsum.axis1") { $0.cumulativeSum(alongAxis: 1) }
        try fixture.check("cumsum.last_reverse") { $0.cumulativeSum(alongAxis: -1, reverse: true) }
        try fixture.check("cumsum.axis0_exclusive") {
            $0.cumulativeSum(alongAxis: 0, exclusive: true)
        }
    }

    @Test(arguments: ["plain", "batched", "shared_b", "batched_bt"])
    func matmulMatchesPyTorch(_ variant: String) throws {
        let fixture = try Fixture("matmul")
        let name = "matmul.\(variant)"
        let a = try fixture("\(name).a").requiringGradient()
        let b = try fixture("\(name).b").requiringGradient()
        let y = Tensor.matmul(a, b, transposeB: variant == "batched_bt")  // b stored as [3, 5, 6]
        let grads = gradients(of: y, withRespectTo: [a, b], seed: try fixture("\(name).upstream"))
        try assertClose(y.detached(), try fixture("\(name).output"), .reference, "\(name) output")
        try assertClose(
            grads[0], try fixture("\(name).a_grad"), .reference, "\(name) gradient of a")
        try assertClose(
            grads[1], try fixture("\(name).b_grad"), .reference, "\(name) gradient of b")
    }

    /// Compares the elements outside fully masked rows.
    private func compareUnmasked(
        _ actual: Tensor, _ expected: Tensor, _ masked: [Bool], _ label: String
    ) throws {
        #expect(actual.shape == expected.shape, "\(label): shape")
        let keep = masked.indices.filter { !masked[$0] }
        let (a, e) = (actual.scalars, expected.scalars)
        try assertClose(
            keep.map { a[$0] }, keep.map { e[$0] }, .reference, label + " (rows not fully masked)")
    }
}
