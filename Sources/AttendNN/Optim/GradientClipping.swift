// Global-norm gradient clipping (Pascanu et al., 2013), PyTorch's `clip_grad_norm_` rule:
// scale every gradient by max_norm/(‖g‖ + 1e-6) when that factor is below 1.
import AttendCore

/// Rescales `gradients` so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGlobalNorm(_ gradients: inout Gradients, maxNorm: Float) -> Float {
    let norm = gradients.globalNorm
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 { gradients.scale(by: factor) }
    return norm
}
