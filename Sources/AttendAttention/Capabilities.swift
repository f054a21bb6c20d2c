// What a mechanism can do, declared once in its registry entry (xformers' idea): the CLI, the
// property tests and the benchmark read these instead of special-casing names.

/// Declared abilities and costs of a mechanism.
public struct Capabilities: Sendable, Equatable {
    /// Has a causal (autoregressive) form.
    public var supportsCausal: Bool
    /// Honours a key padding mask.
    public var supportsPadding = true
    /// Replaces the whole Transformer layer (attention and feed-forward), like FLASH's GAU.
    public var replacesFeedForward = false
    /// Materialises an n×n map (memory grows quadratically; bounded by a budget).
    public var materializesAttentionMap = false
    /// Has parameters sized by the maximum length (Linformer's projections).
    public var hasLengthSizedParameters = false
    /// Can be configured to attend to every key, so it must then equal full attention.
    public var canSeeEveryKey = false
    /// Output depends on random draws that are fixed per seed (BigBird layout, Performer features).
    public var isRandomized = false
    /// For mechanisms meant only for the bottom layer (SPADE's state-space layer): the registry
    /// name of the mixer the layers above run, unless the model configuration names another.
    public var upperLayerMixer: String? = nil
    /// Time complexity in n, for `attend list` (e.g. "O(n²)", "O(n·w)").
    public var complexity: String

    /// Capabilities with the two fields every mechanism must state.
    public init(supportsCausal: Bool, complexity: String) {
        self.supportsCausal = supportsCausal
        self.complexity = complexity
    }
}
