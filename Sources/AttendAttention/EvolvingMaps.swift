// Differentiable operations on materialised attention maps, for evolving attention (mechanisms-a
// §5): scores and value mixing restricted to a diagonal band (local attention's map in O(n·W)
// memory), and the fused evolving update
//   M = (1 − ρ)·(S ⊙ valid) + ρ·Ã_prev
//   Ã = (γ·act(conv3×3(M) + bias) + (1 − γ)·M) ⊙ valid
// whose backward (§5.5) is
//   dA = dÃ ⊙ valid,  dPre = γ·dA ⊙ act′(pre),  dM = convᵀ(dPre) + (1 − γ)·dA,
//   dS = (1 − ρ)·dM ⊙ valid,  dÃ_prev = ρ·dM,  dW, dbias from (dPre, M).
// One op keeps only M and the pre-activation for backward instead of the half-dozen maps a chain of
// elementwise ops would hold: these maps are the mechanism's whole memory cost.
// Shapes: b batch, h heads, n queries, W stored columns (m keys for whole maps), d head dimension.
import AttendCore

/// The non-linearity applied to the convolved map.
public enum MapActivation: String, Codable, Sendable, CaseIterable {
    /// max(0, x) (EA-ResNet, TensorFlow).
    case relu
    /// x for x ≥ 0, 0.01·x below (EA-DC, PyTorch's nn.LeakyReLU()).
    case leakyRelu = "leaky_relu"
    /// No activation.
    case identity

    @inline(__always)
    func apply(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .leakyRelu: return x >= 0 ? x : 0.01 * x
        case .identity: return x
        }
    }

    @inline(__always)
    func derivative(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? 1 : 0
        case .leakyRelu: return x >= 0 ? 1 : 0.01
        case .identity: return 1
        }
    }
}

extension Tensor {
    /// S [b, h, n, W] = scale·q·kᵀ on the diagonal band of `width` columns starting `before` keys
    /// before each query (0 where the key lies outside the sequence). q, k: [b, n, h, d].
    public static func bandedScores(query: Tensor, key: Tensor, scale: Float, before: Int, width: Int) -> Tensor {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        precondition(key.shape == query.shape, "bandedScores: key \(key.shape) vs query \(query.shape)")
        let shape = BandedAttention.Shape(batch: b, length: n, heads: h, dimension: d, valueDimension: d, before: before, width: width)
        let scores = Tensor.filled(shape: [b, h, n, width]) { out in
            query.withUnsafeBufferPointer { q in
                key.withUnsafeBufferPointer { k in
                    BandedAttention.scores(query: q.baseAddress!, key: k.baseAddress!, scale: scale, into: out.baseAddress!, shape: shape)
                }
            }
        }
        return scores.recorded(.custom, from: [query, key]) { ds, needs in
            var dq = needs[0] ? Tensor.zeros(query.shape) : nil
            var dk = needs[1] ? Tensor.zeros(key.shape) : nil
            query.withUnsafeBufferPointer { q in
                key.withUnsafeBufferPointer { k in
                    ds.withUnsafeBufferPointer { g in
                        withOptionalMutablePointer(&dq) { dqp in
                            withOptionalMutablePointer(&dk) { dkp in
                                BandedAttention.scoresBackward(
                                    query: q.baseAddress!, key: k.baseAddress!, scale: scale, scoreGradient: g.baseAddress!,
                                    queryGradient: dqp, keyGradient: dkp, shape: shape)
                            }
                        }
                    }
                }
            }
            return [dq, dk]
        }
    }

    /// o [b, n, h, e] = P·v for a banded P [b, h, n, W] (same band as `bandedScores`); v [b, n, h, e].
    public static func bandedMix(probabilities: Tensor, value: Tensor, before: Int) -> Tensor {
        let (b, n, h, e) = (value.shape[0], value.shape[1], value.shape[2], value.shape[3])
        let width = probabilities.shape[3]
        precondition(probabilities.shape == [b, h, n, width], "bandedMix: probabilities \(probabilities.shape) for values \(value.shape)")
        let shape = BandedAttention.Shape(batch: b, length: n, heads: h, dimension: e, valueDimension: e, before: before, width: width)
        let output = Tensor.filled(shape: [b, n, h, e]) { out in
            probabilities.withUnsafeBufferPointer { p in
                value.withUnsafeBufferPointer { v in
                    BandedAttention.mix(probabilities: p.baseAddress!, value: v.baseAddress!, into: out.baseAddress!, shape: shape)
                }
            }
        }
        return output.recorded(.custom, from: [probabilities, value]) { dout, needs in
            var dp = needs[0] ? Tensor.zeros(probabilities.shape) : nil
            var dv = needs[1] ? Tensor.zeros(value.shape) : nil
            probabilities.withUnsafeBufferPointer { p in
                value.withUnsafeBufferPointer { v in
                    dout.withUnsafeBufferPointer { g in
                        withOptionalMutablePointer(&dp) { dpp in
                            withOptionalMutablePointer(&dv) { dvp in
                                BandedAttention.mixBackward(
                                    probabilities: p.baseAddress!, value: v.baseAddress!, outputGradient: g.baseAddress!,
                                    probabilityGradient: dpp, valueGradient: dvp, shape: shape)
                            }
                        }
                    }
                }
            }
            return [dp, dv]
        }
    }

    /// y = conv3×3(x) + bias over maps [b, h, n, W] (see `MapConvolution`); weight [h, h, 3, 3].
    public static func mapConvolution(_ x: Tensor, weight: Tensor, bias: Tensor, shift: Int, causal: Bool) -> Tensor {
        let shape = MapConvolutionShape(
            batch: x.shape[0], channels: x.shape[1], rows: x.shape[2], columns: x.shape[3], shift: shift,
            tapOffset: causal ? 2 : 1)
        let y = Tensor.filled(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                weight.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { bp in
                        MapConvolution.forward(xp.baseAddress!, weight: w.baseAddress!, bias: bp.baseAddress!, into: out.baseAddress!, shape: shape)
                    }
                }
            }
        }
        return y.recorded(.custom, from: [x, weight, bias]) { dy, needs in
            var dx = needs[0] ? Tensor.zeros(x.shape) : nil
            var dw = needs[1] ? Tensor.zeros(weight.shape) : nil
            var db = needs[2] ? Tensor.zeros(bias.shape) : nil
            x.withUnsafeBufferPointer { xp in
                weight.withUnsafeBufferPointer { w in
                    dy.withUnsafeBufferPointer { g in
                        withOptionalMutablePointer(&dx) { dxp in
                            withOptionalMutablePointer(&dw) { dwp in
                                withOptionalMutablePointer(&db) { dbp in
                                    MapConvolution.backward(
                                        xp.baseAddress!, weight: w.baseAddress!, outputGradient: g.baseAddress!,
                                        inputGradient: dxp, weightGradient: dwp, biasGradient: dbp, shape: shape)
                                }
                            }
                        }
                    }
                }
            }
            return [dx, dw, db]
        }
    }

    /// The evolving update Ã of scores S given the previous layer's Ã_prev (see the file header).
    ///
    /// - Parameters:
    ///   - scores: S [b, h, n, W].
    ///   - previous: Ã_prev [b, h, n, W], zero on invalid cells.
    ///   - weight, bias: the convolution, [h, h, 3, 3] and [h].
    ///   - valid: [1 or b, 1, n, W], 1 on cells that exist and are visible (0/1 values).
    ///   - shift: 0 for whole maps, 1 for bands; `causal` picks the causal taps.
    /// - Returns: Ã [b, h, n, W], zero on invalid cells.
    public static func evolvingUpdate(
        scores: Tensor, previous: Tensor, weight: Tensor, bias: Tensor, valid: Tensor, residualWeight rho: Float,
        convolutionWeight gamma: Float, activation: MapActivation, shift: Int, causal: Bool
    ) -> Tensor {
        let (b, h, n, w) = (scores.shape[0], scores.shape[1], scores.shape[2], scores.shape[3])
        precondition(previous.shape == scores.shape, "evolvingUpdate: previous map \(previous.shape) vs scores \(scores.shape)")
        let validBatched = valid.shape[0] != 1
        precondition(valid.shape == [validBatched ? b : 1, 1, n, w], "evolvingUpdate: valid mask \(valid.shape) for maps \(scores.shape)")
        let map = n * w
        let shape = MapConvolutionShape(batch: b, channels: h, rows: n, columns: w, shift: shift, tapOffset: causal ? 2 : 1)
        // M = (1 − ρ)·S ⊙ valid + ρ·Ã_prev
        let mixed = Tensor.filled(shape: scores.shape) { out in
            scores.withUnsafeBufferPointer { s in
                previous.withUnsafeBufferPointer { p in
                    valid.withUnsafeBufferPointer { v in
                        forEachMap(b * h) { index in
                            let mask = v.baseAddress! + (validBatched ? index / h : 0) * map
                            let (sm, pm, om) = (s.baseAddress! + index * map, p.baseAddress! + index * map, out.baseAddress! + index * map)
                            for c in 0..<map { om[c] = (1 - rho) * sm[c] * mask[c] + rho * pm[c] }
                        }
                    }
                }
            }
        }
        let pre = Tensor.filled(shape: scores.shape) { out in
            mixed.withUnsafeBufferPointer { m in
                weight.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        MapConvolution.forward(m.baseAddress!, weight: wp.baseAddress!, bias: bp.baseAddress!, into: out.baseAddress!, shape: shape)
                    }
                }
            }
        }
        // Ã = (γ·act(pre) + (1 − γ)·M) ⊙ valid
        let evolved = Tensor.filled(shape: scores.shape) { out in
            pre.withUnsafeBufferPointer { pp in
                mixed.withUnsafeBufferPointer { m in
                    valid.withUnsafeBufferPointer { v in
                        forEachMap(b * h) { index in
                            let mask = v.baseAddress! + (validBatched ? index / h : 0) * map
                            let (pr, mm, om) = (pp.baseAddress! + index * map, m.baseAddress! + index * map, out.baseAddress! + index * map)
                            for c in 0..<map { om[c] = (gamma * activation.apply(pr[c]) + (1 - gamma) * mm[c]) * mask[c] }
                        }
                    }
                }
            }
        }
        return evolved.recorded(.custom, from: [scores, previous, weight, bias]) { dEvolved, needs in
            // dPre = γ·(dÃ ⊙ valid) ⊙ act′(pre); dA kept for the (1 − γ) path.
            var dPre = Tensor.zeros(scores.shape)
            var dA = Tensor.zeros(scores.shape)
            dEvolved.withUnsafeBufferPointer { g in
                pre.withUnsafeBufferPointer { pp in
                    valid.withUnsafeBufferPointer { v in
                        dPre.withUnsafeMutableBufferPointer { dp in
                            dA.withUnsafeMutableBufferPointer { da in
                                forEachMap(b * h) { index in
                                    let mask = v.baseAddress! + (validBatched ? index / h : 0) * map
                                    let offset = index * map
                                    for c in 0..<map {
                                        let a = g[offset + c] * mask[c]
                                        da[offset + c] = a
                                        dp[offset + c] = gamma * a * activation.derivative(pp[offset + c])
                                    }
                                }
                            }
                        }
                    }
                }
            }
            var dMixed = Tensor.zeros(scores.shape)
            var dWeight = needs[2] ? Tensor.zeros(weight.shape) : nil
            var dBias = needs[3] ? Tensor.zeros(bias.shape) : nil
            mixed.withUnsafeBufferPointer { m in
                weight.withUnsafeBufferPointer { wp in
                    dPre.withUnsafeBufferPointer { g in
                        dMixed.withUnsafeMutableBufferPointer { dm in
                            withOptionalMutablePointer(&dWeight) { dwp in
                                withOptionalMutablePointer(&dBias) { dbp in
                                    MapConvolution.backward(
                                        m.baseAddress!, weight: wp.baseAddress!, outputGradient: g.baseAddress!,
                                        inputGradient: dm.baseAddress!, weightGradient: dwp, biasGradient: dbp, shape: shape)
                                }
                            }
                        }
                    }
                }
            }
            // dM += (1 − γ)·dA; dS = (1 − ρ)·dM ⊙ valid; dÃ_prev = ρ·dM.
            var dScores = needs[0] ? Tensor.zeros(scores.shape) : nil
            var dPrevious = needs[1] ? Tensor.zeros(scores.shape) : nil
            dA.withUnsafeBufferPointer { da in
                valid.withUnsafeBufferPointer { v in
                    dMixed.withUnsafeMutableBufferPointer { dm in
                        withOptionalMutablePointer(&dScores) { dsp in
                            withOptionalMutablePointer(&dPrevious) { dpp in
                                forEachMap(b * h) { index in
                                    let mask = v.baseAddress! + (validBatched ? index / h : 0) * map
                                    let offset = index * map
                                    for c in 0..<map {
                                        let total = dm[offset + c] + (1 - gamma) * da[offset + c]
                                        dsp?[offset + c] = (1 - rho) * total * mask[c]
                                        dpp?[offset + c] = rho * total
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return [dScores, dPrevious, dWeight, dBias]
        }
    }
}

/// Runs `body` for each of `count` maps in parallel (each call writes only its own map).
private func forEachMap(_ count: Int, _ body: (Int) -> Void) {
    Parallel.forEach(count, body)
}
