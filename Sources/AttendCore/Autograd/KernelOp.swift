// Fused kernels as differentiable ops. A kernel op states its inputs (tensors gradients flow to),
// its constants (read, never differentiated) and its output shape, and writes its output and its
// inputs' gradients over raw buffers; `Tensor.fused` is the one place that turns tensors into
// pointers, allocates the output, saved maps, scratch and gradient buffers, and records the op
// under its own name. Every kernel op declares small examples of its inputs (`gradientExamples`) and
// is listed in its module's registry, whose gradient-check test compares each example with finite
// differences and fails for an op without one, as `GradientCheckTests` does for the core ops.

/// A differentiable op computed by a buffer kernel (see the file header). Its type is what
/// registries list (`[any KernelOp.Type]`), so its metatype is sendable.
public protocol KernelOp: SendableMetatype {
    /// Small host-side values forward leaves for backward (log-sum-exp rows, routing weights):
    /// `Void` when there are none. Large maps belong in `savedShapes`, so memory counts them.
    associatedtype Saved = Void

    /// The name recorded-op lists and the backward sweep's errors show.
    static var op: Op { get }

    /// Whether `backward` gets nil for inputs that need no gradient, so it can skip their work.
    /// When false (the default) every present input gets a zeroed buffer: kernels that compute
    /// all gradients together.
    static var skipsUnneededGradients: Bool { get }

    /// Whether `backward` reads the forward output (`KernelGradients.output`). When false (the
    /// default) the output is not kept for backward, so it can be freed as soon as its users are.
    static var backwardReadsOutput: Bool { get }

    /// The tensors gradients flow to, in the order of `KernelBuffers.input(_:)` and
    /// `KernelGradients.input(_:)`; nil for an optional input that is absent.
    var inputs: [Tensor?] { get }

    /// Tensors read but not differentiated (masks, fixed scales), nil where absent.
    var constants: [Tensor?] { get }

    /// The shape of the result, which `forward` must write in full.
    var outputShape: [Int] { get }

    /// Zeroed maps that `forward` writes beside its output and `backward` reads.
    var savedShapes: [[Int]] { get }

    /// Zeroed working buffers `backward` needs, freed when it returns.
    var scratchShapes: [[Int]] { get }

    /// The shape of input `index`'s gradient buffer: the input's, or with one leading per-batch
    /// axis that is summed away after `backward` (per-batch gradients of a shared table).
    func gradientShape(ofInput index: Int) -> [Int]

    /// Writes the output (every element) and the saved maps.
    func forward(_ buffers: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> Saved

    /// Writes (adds into zeroed buffers) the inputs' gradients from the output's gradient.
    func backward(_ buffers: KernelBuffers, _ gradients: KernelGradients, saved: Saved)

    /// Small calls of the op (tiny shapes) whose gradients its module's `KernelOpGradientTests`
    /// compares with finite differences; each must record `op`, and an op with none fails there.
    static var gradientExamples: [KernelOpExample] { get }
}

extension KernelOp {
    /// By default every present input gets a gradient buffer.
    public static var skipsUnneededGradients: Bool { false }
    /// By default backward does not read the output.
    public static var backwardReadsOutput: Bool { false }
    /// By default no constants.
    public var constants: [Tensor?] { [] }
    /// By default nothing saved beside the output.
    public var savedShapes: [[Int]] { [] }
    /// By default no scratch.
    public var scratchShapes: [[Int]] { [] }
    /// By default the input's own shape.
    public func gradientShape(ofInput index: Int) -> [Int] { inputs[index]?.shape ?? [] }
}

/// The base addresses of a kernel op's inputs, constants and saved maps for one call.
public struct KernelBuffers {
    let inputs: [UnsafePointer<Float>?]
    let constants: [UnsafePointer<Float>?]
    let saved: [UnsafeMutablePointer<Float>]

    /// Input `index`, which must be present.
    public func input(_ index: Int) -> UnsafePointer<Float> {
        guard let pointer = inputs[index] else {
            preconditionFailure("kernel input \(index) is absent")
        }
        return pointer
    }

    /// Input `index`, or nil when that optional input is absent.
    public func optionalInput(_ index: Int) -> UnsafePointer<Float>? { inputs[index] }

    /// Constant `index`, or nil when it is absent.
    public func constant(_ index: Int) -> UnsafePointer<Float>? { constants[index] }

    /// Saved map `index`: written by `forward`, read by `backward`.
    public func saved(_ index: Int) -> UnsafeMutablePointer<Float> { saved[index] }
}

/// The backward pass's buffers: the forward output, its gradient, the inputs' gradient buffers
/// (zeroed) and the scratch buffers (zeroed).
public struct KernelGradients {
    let forwardOutput: UnsafePointer<Float>?
    /// The gradient of the loss with respect to the output.
    public let outputGradient: UnsafePointer<Float>
    let inputs: [UnsafeMutablePointer<Float>?]
    let scratch: [UnsafeMutablePointer<Float>]

    /// The forward pass's result, kept for ops that declare `backwardReadsOutput`.
    public var output: UnsafePointer<Float> {
        guard let forwardOutput else {
            preconditionFailure(
                "a kernel op read its output in backward without declaring backwardReadsOutput")
        }
        return forwardOutput
    }

    /// The gradient buffer of input `index`, which must have one.
    public func input(_ index: Int) -> UnsafeMutablePointer<Float> {
        guard let pointer = inputs[index] else {
            preconditionFailure("kernel input \(index) has no gradient buffer")
        }
        return pointer
    }

    /// The gradient buffer of input `index`, or nil when the input is absent (or, for ops that
    /// skip unneeded gradients, needs none).
    public func optionalInput(_ index: Int) -> UnsafeMutablePointer<Float>? { inputs[index] }

    /// Scratch buffer `index`.
    public func scratch(_ index: Int) -> UnsafeMutablePointer<Float> { scratch[index] }
}

extension Tensor {
    /// Runs `kernel` and records its gradient rule under `K.op` (when any input tracks gradients
    /// and recording is on).
    public static func fused<K: KernelOp>(_ kernel: K) -> Tensor {
        fusedKeepingSaved(kernel).output
    }

    /// Like `fused(_:)`, also returning the saved maps (values a caller may use undifferentiated).
    public static func fusedKeepingSaved<K: KernelOp>(_ kernel: K) -> (
        output: Tensor, saved: [Tensor]
    ) {
        let inputs = kernel.inputs
        let constants = kernel.constants
        let saved = kernel.savedShapes.map { Tensor.zeros($0) }
        let output = Tensor(
            shape: kernel.outputShape,
            storage: TensorStorage(uninitializedCount: Shape.count(kernel.outputShape)))
        let state = withExtendedLifetime((inputs, constants, saved)) {
            kernel.forward(
                KernelBuffers(
                    inputs: inputs.map(\.?.readAddress), constants: constants.map(\.?.readAddress),
                    saved: saved.map(\.storage.base)),
                into: output.storage.base)
        }
        let present = inputs.compactMap { $0 }
        let kept = K.backwardReadsOutput ? output : nil
        let recorded = output.recorded(K.op, from: present) { dy, needs in
            kernelGradients(
                kernel, saved: saved, state: state, output: kept, outputGradient: dy, needs: needs)
        }
        return (recorded, saved)
    }
}

extension Tensor {
    /// Runs `body` with the base addresses of `tensors` (nil where absent), in order: the read-only
    /// plumbing of kernels that record nothing (routing, decoding).
    public static func withBaseAddresses<R>(
        _ tensors: [Tensor?], _ body: ([UnsafePointer<Float>?]) throws -> R
    ) rethrows -> R {
        try withExtendedLifetime(tensors) { try body(tensors.map(\.?.readAddress)) }
    }

    /// The base address for reading (tensors are contiguous).
    fileprivate var readAddress: UnsafePointer<Float> { UnsafePointer(storage.base) }
}

/// The backward step of `Tensor.fused`: zeroed gradient and scratch buffers, the kernel's rule, and
/// per-batch gradients summed to their inputs' shapes. `needs` is per present input.
private func kernelGradients<K: KernelOp>(
    _ kernel: K, saved: [Tensor], state: K.Saved, output: Tensor?, outputGradient: Tensor,
    needs: [Bool]
) -> [Tensor?] {
    let inputs = kernel.inputs
    let constants = kernel.constants
    var needed = needs.makeIterator()
    let gradients: [Tensor?] = inputs.indices.map { index in
        guard inputs[index] != nil else { return nil }
        let wanted = needed.next()!
        return wanted || !K.skipsUnneededGradients
            ? Tensor.zeros(kernel.gradientShape(ofInput: index)) : nil
    }
    let scratch = kernel.scratchShapes.map { Tensor.zeros($0) }
    withExtendedLifetime((inputs, constants, saved, output, outputGradient, gradients, scratch)) {
        kernel.backward(
            KernelBuffers(
                inputs: inputs.map(\.?.readAddress), constants: constants.map(\.?.readAddress),
                saved: saved.map(\.storage.base)),
            KernelGradients(
                forwardOutput: output?.readAddress, outputGradient: outputGradient.readAddress,
                inputs: gradients.map(\.?.storage.base), scratch: scratch.map(\.storage.base)),
            saved: state)
    }
    return zip(inputs, gradients).compactMap { input, gradient -> Tensor?? in
        guard let input else { return nil }
        guard let gradient, gradient.shape != input.shape else { return .some(gradient) }
        precondition(
            Array(gradient.shape.dropFirst()) == input.shape,
            "\(K.op): gradient buffer \(gradient.shape) for an input of shape \(input.shape)")
        return .some(gradient.summed(alongAxes: [0]))
    }
}
