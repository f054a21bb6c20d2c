// `attend bench core`: the library's matmul next to raw cblas_sgemm in the same run (GFLOP/s), and
// elementwise/normalisation throughput next to a plain memory copy of the same bytes (Gelem/s).
import AttendCore
import Foundation

/// The options of `attend bench core`.
struct CoreBenchmarkOptions: OptionGroup {
    let output = BenchOutputOptions()
}

enum CoreBenchmark: Command {
    static let spec = CommandSpec(
        name: "bench core", summary: "core ops: matrix products, elementwise, reductions, softmax",
        usage: "bench core [options]", positionals: nil)

    struct Row: Codable {
        let operation: String, shape: String, value: Double, unit: String, reference: Double,
            ratio: Double
    }

    static func run(_ arguments: ParsedArguments<CoreBenchmarkOptions>) throws {
        try BenchOutputOptions.start(arguments.group(\.output))
        let runs = try arguments[\.output.runs]
        var rows: [Row] = []
        // Square matmuls against raw sgemm on the same buffers.
        for n in [128, 256, 512, 1024, 2048] {
            let a = Tensor.randomNormal([n, n], seed: 1), b = Tensor.randomNormal([n, n], seed: 2)
            let flops = 2 * Double(n * n * n)
            var c = Tensor.zeros([n, n])
            let (library, raw) = paired(runs: runs) {
                _ = Tensor.matmul(a, b)
            } raw: {
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            BLAS.gemm(
                                transposeA: false, transposeB: false, m: n, n: n, k: n,
                                a: ap.baseAddress!, lda: n,
                                b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                        }
                    }
                }
            }
            rows.append(
                row(
                    "matmul", "\(n)×\(n)×\(n)", flops / library.median / 1e9, "GFLOP/s",
                    flops / raw.median / 1e9))
        }
        // Batched matmuls of attention shapes: [B·h, n, 64] · [B·h, 64, n].
        for (bh, n) in [(8, 512), (8, 2048), (64, 512), (8, 4096)] {
            let q = Tensor.randomNormal([bh, n, 64], seed: 3),
                k = Tensor.randomNormal([bh, n, 64], seed: 4)
            let flops = 2 * Double(bh * n * n * 64)
            var c = Tensor.zeros([bh, n, n])
            let (library, raw) = paired(runs: runs) {
                _ = Tensor.matmul(q, k, transposeB: true)
            } raw: {
                q.withUnsafeBufferPointer { qp in
                    k.withUnsafeBufferPointer { kp in
                        c.withUnsafeMutableBufferPointer { cp in
                            for i in 0..<bh {
                                BLAS.gemm(
                                    transposeA: false, transposeB: true, m: n, n: n, k: 64,
                                    a: qp.baseAddress! + i * n * 64,
                                    lda: 64, b: kp.baseAddress! + i * n * 64, ldb: 64,
                                    c: cp.baseAddress! + i * n * n, ldc: n)
                            }
                        }
                    }
                }
            }
            rows.append(
                row(
                    "batched matmul q·kᵀ", "\(bh)×\(n)×\(n)×64", flops / library.median / 1e9,
                    "GFLOP/s", flops / raw.median / 1e9))
        }
        // Elementwise and normalisation on 16M floats (out of cache) against a copy of the same bytes.
        let count = 1 << 24
        let x = Tensor.randomNormal([count / 1024, 1024], seed: 5)
        let copy = Measurement.run(runs: runs) { _ = x.mapped { $0 } }
        let copyRate = Double(count) / copy.median / 1e9
        let unary: [(String, (Tensor) -> Tensor)] = [
            ("exp", { $0.exp() }), ("gelu (erf)", { $0.gelu() }),
            ("gelu (tanh)", { $0.gelu(approximation: .tanh) }),
            ("softmax rows of 1024", { $0.softmax() }),
        ]
        for (name, f) in unary {
            let t = Measurement.run(runs: runs) { _ = f(x) }
            rows.append(row(name, "16M", Double(count) / t.median / 1e9, "Gelem/s", copyRate))
        }
        let gamma = Tensor.ones([1024]), beta = Tensor.zeros([1024])
        let layerNorm = Measurement.run(runs: runs) {
            _ = x.layerNormalized(gamma: gamma, beta: beta, epsilon: 1e-5)
        }
        rows.append(
            row(
                "layernorm forward", "16M", Double(count) / layerNorm.median / 1e9, "Gelem/s",
                copyRate))
        let upstream = Tensor.randomNormal(x.shape, seed: 6)
        let leaves = [x, gamma, beta].map { $0.requiringGradient() }
        let layerNormBoth = Measurement.run(runs: runs) {
            let y = leaves[0].layerNormalized(gamma: leaves[1], beta: leaves[2], epsilon: 1e-5)
            _ = gradients(of: y, withRespectTo: leaves, seed: upstream)
        }
        // Forward and backward move 2.5 copies' worth of bytes (read x, write y; read x and dy, write
        // dx), so "a copy of the same bytes" runs at 2/5 of the copy's element rate.
        rows.append(
            row(
                "layernorm fwd+bwd", "16M", Double(count) / layerNormBoth.median / 1e9, "Gelem/s",
                copyRate * 2 / 5))
        let table = rows.map { r in
            [
                r.operation, r.shape, String(format: "%.2f", r.value) + " " + r.unit,
                String(format: "%.2f", r.reference), String(format: "%.2f", r.ratio),
            ]
        }
        print(
            TextTable(
                header: ["operation", "shape", "Attend", "reference", "Attend/reference"],
                rows: table
            ).rendered)
        print(
            "reference: raw cblas_sgemm on the same buffers (matmul), a plain copy of the same bytes (elementwise;"
                + " LayerNorm forward+backward moves 2.5 copies' bytes)")
        try ResultFiles.write(rows, arguments.group(\.output))
    }

    /// The library's product and the raw call timed in alternation, three times `runs` each: one
    /// product takes 0.1–100 ms, and OpenBLAS's threads on a small shared machine switch between
    /// running on one core and on two for seconds at a time, so separate blocks of runs could
    /// compare a library figure from one state with a raw figure from the other.
    static func paired(runs: Int, _ library: () -> Void, raw: () -> Void) -> (
        Measurement, Measurement
    ) {
        withoutActuallyEscaping(library) { library in
            withoutActuallyEscaping(raw) { raw in
                let both = Measurement.alternating(runs: 3 * runs, [library, raw])
                return (both[0], both[1])
            }
        }
    }

    static func row(
        _ operation: String, _ shape: String, _ value: Double, _ unit: String, _ reference: Double
    ) -> Row {
        Row(
            operation: operation, shape: shape, value: value, unit: unit, reference: reference,
            ratio: value / reference)
    }
}
