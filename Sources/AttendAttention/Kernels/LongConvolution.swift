// Long convolutions by FFT, O(L log L) per channel: the SSM branch of SPADE convolves each of H
// channels of length L with its own kernel as long as the input (S4's `fft_conv`).
// - One direction (causal): y[t] = Σ_{s≤t} K0[t−s]·u[s].
// - Two directions (bidirectional S4): y[t] = Σ_{s≤t} K0[t−s]·u[s] + Σ_{m=1..L−1} K1[m−1]·u[t+m],
//   i.e. one two-sided kernel k(δ) = K0[δ] (δ ≥ 0), K1[−δ−1] (δ < 0), as S4 builds it by padding
//   K0 on the right and the reversed K1 on the left.
// Both are circular convolutions of size N ≥ 2L − 1 (a power of two), where zero-padding makes
// them linear. Backward (standard calculus, mechanisms-a §4.3):
//   du[s] = Σ_t g[t]·k(t−s)   → spectrum G·conj(K̂)   (a correlation),
//   dk(δ) = Σ_t g[t]·u[t−δ]   → spectrum Σ_b G·conj(Û) (summed over the batch, one inverse per h).
// Layout: signals [b, H, L] contiguous, kernels [directions, H, L]. Work is split over channels; each
// task owns its channel's kernel spectrum and scratch.
import AttendCore

/// FFT convolution of channels with per-channel kernels.
public enum LongConvolution {
    /// Transform size for length L: the smallest power of two ≥ 2L − 1 (at least 2).
    public static func fftSize(length: Int) -> Int {
        max(2, FFT.powerOfTwo(atLeast: 2 * length - 1))
    }

    /// Per-task working memory: spectra and time-domain buffers for one channel.
    struct Workspace {
        let n: Int, bins: Int
        var buffer: [Float]
        init(n: Int) {
            self.n = n
            bins = n / 2 + 1
            buffer = [Float](repeating: 0, count: 2 * n + 8 * (n / 2 + 1))
        }
    }

    /// y = k ∗ u for every (batch, channel).
    ///
    /// - Parameters:
    ///   - signal: [batch, channels, length].
    ///   - kernel: [directions, channels, length], directions 1 (causal) or 2 (bidirectional).
    ///   - output: [batch, channels, length] (written).
    ///   - batch: the batch size.
    ///   - channels: independent channels, each with its own kernel.
    ///   - length: positions per channel.
    ///   - directions: 1 (causal) or 2 (bidirectional: the second kernel reads later positions).
    public static func forward(
        signal: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, length: Int, directions: Int
    ) {
        let (u, y) = (SendablePointer(signal), SendablePointer(output))
        forEachChannel(
            kernel: kernel, channels: channels, length: length, directions: directions
        ) { h, w in
            let (time, scratch, plan, bins) = (w.time, w.scratch, w.plan, w.bins)
            let (kr, ki, xr) = (w.kernelReal, w.kernelImaginary, w.spectra)
            let xi = xr + bins
            for b in 0..<batch {
                let row = (b * channels + h) * length
                padded(u.base + row, length: length, into: time, n: w.n)
                plan.forward(time, real: xr, imaginary: xi, scratch: scratch)
                multiply(xr, xi, kr, ki, conjugateSecond: false, bins: bins)
                plan.inverse(real: xr, imaginary: xi, into: time, scratch: scratch)
                (y.base + row).update(from: time, count: length)
            }
        }
    }

    /// Gradients of Σ g ⊙ (k ∗ u) with respect to u and k (each skipped when its pointer is nil).
    ///
    /// - Parameters:
    ///   - signal: [batch, channels, length], the forward input.
    ///   - kernel: [directions, channels, length], the forward kernel.
    ///   - outputGradient: [batch, channels, length].
    ///   - signalGradient: [batch, channels, length] (written).
    ///   - kernelGradient: [directions, channels, length] (written; K1[L−1] never acts, so its
    ///     gradient is 0).
    ///   - batch: the batch size.
    ///   - channels: independent channels, each with its own kernel.
    ///   - length: positions per channel.
    ///   - directions: 1 (causal) or 2 (bidirectional).
    public static func backward(
        signal: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        signalGradient: UnsafeMutablePointer<Float>?, kernelGradient: UnsafeMutablePointer<Float>?,
        batch: Int, channels: Int, length: Int, directions: Int
    ) {
        let (u, g) = (SendablePointer(signal), SendablePointer(outputGradient))
        let du = signalGradient.map { SendablePointer($0) }
        let dk = kernelGradient.map { SendablePointer($0) }
        forEachChannel(
            kernel: kernel, channels: channels, length: length, directions: directions
        ) { h, w in
            let (time, scratch, plan, bins, n) = (w.time, w.scratch, w.plan, w.bins, w.n)
            let (kr, ki, gr) = (w.kernelReal, w.kernelImaginary, w.spectra)
            let gi = gr + bins, dr = gi + bins, di = dr + bins, yr = di + bins, yi = yr + bins
            dr.update(repeating: 0, count: 2 * bins)
            for b in 0..<batch {
                let row = (b * channels + h) * length
                padded(g.base + row, length: length, into: time, n: n)
                plan.forward(time, real: gr, imaginary: gi, scratch: scratch)
                if let du {
                    // du = irfft(G·conj(K̂))
                    yr.update(from: gr, count: bins)
                    yi.update(from: gi, count: bins)
                    multiply(yr, yi, kr, ki, conjugateSecond: true, bins: bins)
                    plan.inverse(real: yr, imaginary: yi, into: time, scratch: scratch)
                    (du.base + row).update(from: time, count: length)
                }
                if dk != nil {
                    // D += G·conj(Û)
                    padded(u.base + row, length: length, into: time, n: n)
                    plan.forward(time, real: yr, imaginary: yi, scratch: scratch)
                    for f in 0..<bins {
                        dr[f] += gr[f] * yr[f] + gi[f] * yi[f]
                        di[f] += gi[f] * yr[f] - gr[f] * yi[f]
                    }
                }
            }
            if let dk {
                plan.inverse(real: dr, imaginary: di, into: time, scratch: scratch)
                let forward = dk.base + h * length
                forward.update(from: time, count: length)
                if directions == 2 {
                    let backward = dk.base + (channels + h) * length
                    for m in 1..<max(length, 1) { backward[m - 1] = time[n - m] }
                    backward[length - 1] = 0
                }
            }
        }
    }

    /// One channel's working memory, laid out in its `Workspace`: `time` and `scratch` (n values
    /// each), the kernel's spectrum (bins values each part), then `spectra`, six more half-spectra.
    struct ChannelWork {
        let n: Int, bins: Int, plan: RealFFTPlan
        let time: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
        let kernelReal: UnsafeMutablePointer<Float>, kernelImaginary: UnsafeMutablePointer<Float>
        let spectra: UnsafeMutablePointer<Float>
    }

    /// Runs `body` for every channel in parallel with its own `ChannelWork`, whose kernel spectrum
    /// is already computed: what forward and backward share.
    static func forEachChannel(
        kernel: UnsafePointer<Float>, channels: Int, length: Int, directions: Int,
        _ body: (_ channel: Int, _ work: ChannelWork) -> Void
    ) {
        let n = fftSize(length: length)
        let plan = RealFFTPlan.shared(size: n)
        let k = SendablePointer(kernel)
        Parallel.forEach(channels) { h in
            var workspace = Workspace(n: n)
            let bins = workspace.bins
            workspace.buffer.withUnsafeMutableBufferPointer { memory in
                let time = memory.baseAddress!, scratch = time + n
                let kr = scratch + n, ki = kr + bins
                twoSidedKernel(
                    k.base, channel: h, channels: channels, length: length, directions: directions,
                    into: time, n: n)
                plan.forward(time, real: kr, imaginary: ki, scratch: scratch)
                body(
                    h,
                    ChannelWork(
                        n: n, bins: bins, plan: plan, time: time, scratch: scratch, kernelReal: kr,
                        kernelImaginary: ki, spectra: ki + bins))
            }
        }
    }

    /// kv[δ mod N] = k(δ): K0 at δ = 0..<L, and K1[m−1] at δ = −m for m = 1..<L (two directions).
    static func twoSidedKernel(
        _ kernel: UnsafeMutablePointer<Float>, channel h: Int, channels: Int, length: Int,
        directions: Int,
        into kv: UnsafeMutablePointer<Float>, n: Int
    ) {
        kv.update(repeating: 0, count: n)
        kv.update(from: kernel + h * length, count: length)
        if directions == 2 {
            let backward = kernel + (channels + h) * length
            for m in 1..<max(length, 1) { kv[n - m] = backward[m - 1] }
        }
    }

    /// Copies `length` samples into `x` and zero-fills it to `n`.
    @inline(__always)
    static func padded(
        _ source: UnsafeMutablePointer<Float>, length: Int, into x: UnsafeMutablePointer<Float>,
        n: Int
    ) {
        x.update(from: source, count: length)
        (x + length).update(repeating: 0, count: n - length)
    }

    /// a ← a·b (or a·conj(b)) binwise.
    @inline(__always)
    static func multiply(
        _ ar: UnsafeMutablePointer<Float>, _ ai: UnsafeMutablePointer<Float>,
        _ br: UnsafePointer<Float>,
        _ bi: UnsafePointer<Float>, conjugateSecond: Bool, bins: Int
    ) {
        let s: Float = conjugateSecond ? -1 : 1
        for f in 0..<bins {
            let (xr, xi, yr, yi) = (ar[f], ai[f], br[f], s * bi[f])
            ar[f] = xr * yr - xi * yi
            ai[f] = xr * yi + xi * yr
        }
    }
}
