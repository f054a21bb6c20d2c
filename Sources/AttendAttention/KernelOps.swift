// The registry of AttendAttention's kernel ops (fused kernels recorded through `Tensor.fused`). A
// new fused kernel adds one line here; `KernelOpGradientTests` fails until the op has a
// finite-difference case.
import AttendCore

/// Every kernel op AttendAttention defines.
public enum AttentionKernelOps {
    /// Their names, as recorded-op lists show them.
    public static let all: [Op] = [
        FusedAttentionOp.op,
        SegmentedAttentionOp.op,
        GlobalLocalAttentionOp.op,
        LinearAttentionOp.op,
        PositiveRandomFeaturesOp.op,
        DisentangledAttentionOp.op,
        MixtureOfGaussianKeysOp.op,
        HypercubeAttentionOp.op,
        TreeFineAttentionOp.op,
        TreeCoarseAttentionOp.op,
        ChunkedReluSquaredAttentionOp.op,
        BandedScoresOp.op,
        BandedMixOp.op,
        MapConvolutionOp.op,
        EvolvingUpdateOp.op,
        S4DKernelOp.op,
        LongConvolutionOp.op,
    ]
}
