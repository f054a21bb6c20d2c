// AttendNN against PyTorch (scripts/fixtures/core.py → Fixtures/nn.safetensors): LayerNorm values and
// gradients at two epsilons, cross-entropy with an ignored target and label smoothing, BCE with
// logits, MSE, and 20-step AdamW / 10-step SGD trajectories on a quadratic. References were computed
// in float64 and rounded, so the tolerance (`.reference`, 1e-5 relative) measures Attend's error only.
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@Suite struct TorchReferenceTests {
    let file: SafetensorsFile
    init() throws { file = try openFixture("nn", in: Bundle.module) }
    func t(_ name: String) throws -> Tensor { try file.tensor(name) }

    @Test(arguments: ["1e-5", "1e-12"])
    func layerNormMatchesPyTorch(_ eps: String) throws {
        let layer = LayerNorm(dimension: 32, epsilon: Float(eps)!)
        layer.weight.value = try t("layer_norm.weight")
        layer.bias!.value = try t("layer_norm.bias")
        let x = try t("layer_norm.input").requiringGradient()
        let y = layer(x)
        let grads = gradients(
            of: y, withRespectTo: [x, layer.weight.value, layer.bias!.value],
            seed: try t("layer_norm.upstream"))
        let prefix = "layer_norm.eps_\(eps)"
        try assertClose(
            y.detached(), try t("\(prefix).output"), .reference, "LayerNorm output eps \(eps)")
        try assertClose(
            grads[0], try t("\(prefix).input_grad"), .reference, "LayerNorm input gradient")
        try assertClose(
            grads[1], try t("\(prefix).weight_grad"), .reference, "LayerNorm weight gradient")
        try assertClose(
            grads[2], try t("\(prefix).bias_grad"), .reference, "LayerNorm bias gradient")
    }

    @Test(arguments: ["0", "0.1"], ["mean", "sum"])
    func crossEntropyMatchesPyTorch(_ smoothing: String, _ reduction: String) throws {
        let targets = try file.indices("cross_entropy.targets").values
        let (value, grads) = valueAndGradient(at: [try t("cross_entropy.logits")]) { x in
            crossEntropy(
                logits: x[0], targets: targets, labelSmoothing: Float(smoothing)!,
                reduction: LossReduction(rawValue: reduction)!)
        }
        let prefix = "cross_entropy.smoothing_\(smoothing).\(reduction)"
        try assertClose(
            value.reshaped([1]), try t("\(prefix).loss").reshaped([1]), .reference, "\(prefix) loss"
        )
        try assertClose(grads[0], try t("\(prefix).logits_grad"), .reference, "\(prefix) gradient")
    }

    @Test(arguments: ["mean", "sum"])
    func binaryCrossEntropyAndMSEMatchPyTorch(_ reduction: String) throws {
        let r = LossReduction(rawValue: reduction)!
        let targets = try t("bce_with_logits.targets")
        let (bce, bceGrads) = valueAndGradient(at: [try t("bce_with_logits.logits")]) { x in
            binaryCrossEntropy(logits: x[0], targets: targets, reduction: r)
        }
        try assertClose(
            bce.reshaped([1]), try t("bce_with_logits.\(reduction).loss").reshaped([1]), .reference,
            "BCE loss")
        try assertClose(
            bceGrads[0], try t("bce_with_logits.\(reduction).logits_grad"), .reference,
            "BCE gradient")
        let target = try t("mse.target")
        let (mse, mseGrads) = valueAndGradient(at: [try t("mse.input")]) { x in
            meanSquaredError(x[0], target, reduction: r)
        }
        try assertClose(
            mse.reshaped([1]), try t("mse.\(reduction).loss").reshaped([1]), .reference, "MSE loss")
        try assertClose(
            mseGrads[0], try t("mse.\(reduction).input_grad"), .reference, "MSE gradient")
    }

    /// The fixture's quadratic: L = ½Σc_w(W − t_w)² + ½Σc_b(b − t_b)², in a module holding W and b.
    final class Quadratic: Module {
        let weight: Parameter, bias: Parameter
        let targets: (Tensor, Tensor), curvature: (Tensor, Tensor)
        init(_ file: SafetensorsFile) throws {
            weight = Parameter(try file.tensor("quadratic.weight_initial"))
            bias = Parameter(try file.tensor("quadratic.bias_initial"))
            targets = (
                try file.tensor("quadratic.weight_target"), try file.tensor("quadratic.bias_target")
            )
            curvature = (
                try file.tensor("quadratic.weight_curvature"),
                try file.tensor("quadratic.bias_curvature")
            )
        }
        var ownParameters: [(String, Parameter)] { [("weight", weight), ("bias", bias)] }
        func loss() -> Tensor {
            let w = (weight.value - targets.0).squared() * curvature.0
            let b = (bias.value - targets.1).squared() * curvature.1
            return (w.summed() + b.summed()) * 0.5
        }
    }

    /// Runs `steps` optimizer steps, checking the loss before each and the parameters after each.
    func checkTrajectory(
        _ name: String, steps: Int, optimizer: (Quadratic) -> any Optimizer, learningRate: Float
    ) throws {
        let model = try Quadratic(file)
        let opt = optimizer(model)
        let weights = try t("\(name).weight_after_step"), biases = try t("\(name).bias_after_step")
        let losses = try t("\(name).loss_before_step").scalars
        for step in 0..<steps {
            let (loss, grads) = valueAndGradient(of: model) { $0.loss() }
            try assertClose(
                [loss.scalar], [losses[step]], .reference, "\(name) loss before step \(step + 1)")
            opt.step(grads, learningRate: learningRate)
            try assertClose(
                model.weight.value,
                weights.sliced(alongAxis: 0, step..<(step + 1)).reshaped([5, 3]),
                .reference, "\(name) weight after step \(step + 1)")
            try assertClose(
                model.bias.value, biases.sliced(alongAxis: 0, step..<(step + 1)).reshaped([3]),
                .reference, "\(name) bias after step \(step + 1)")
        }
    }

    @Test func adamWTrajectoryMatchesPyTorch() throws {
        try checkTrajectory(
            "adamw", steps: 20,
            optimizer: { model in
                AdamW(
                    parameters: model.namedParameters(), beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                    weightDecay: 0.1)
            }, learningRate: 1e-2)
    }

    @Test func sgdMomentumTrajectoryMatchesPyTorch() throws {
        try checkTrajectory(
            "sgd", steps: 10,
            optimizer: { model in
                SGD(parameters: model.namedParameters(), momentum: 0.9)
            }, learningRate: 0.1)
    }
}
