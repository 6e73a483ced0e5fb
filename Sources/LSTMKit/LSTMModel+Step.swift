/// The single-stream step: one timestep of one `LSTMState`, and the class probabilities of a state.
extension LSTMModel {
    /// A zeroed state for one stream.
    ///
    /// Requires a unidirectional model (`supportsStep`): a backward direction needs the whole
    /// window and is run by `forward` instead. A convolutional front end is stepped too: the
    /// state keeps each of its layers' last `k` inputs (zeros before the first step, the causal
    /// padding), so `step` after `reset()` equals `forward` over the steps since.
    public func makeState() -> LSTMState {
        precondition(supportsStep, "step-wise states need a unidirectional model")
        return LSTMState(model: self)
    }

    /// Scales one timestep of `C` raw values as at training (`Scaler.apply`).
    @inline(__always)
    func scale(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let plan = stepPlan
        Scaler.apply(input, into: output, offset: plan.scaleOffset, divisor: plan.scaleDivisor, channels: channels)
    }

    /// Advances `state` by one timestep of `C` raw values; the scaler is applied exactly as at
    /// training. O(1): no allocation, no work proportional to any window.
    public func step(_ state: LSTMState, input: UnsafePointer<Float>) {
        firstLayerInput(state, input: input)
        advance(state, projected: nil)
        for (member, memberState) in zip(otherMembers, state.members) { member.step(memberState, input: input) }
    }

    /// Writes the first LSTM layer's input `x_0` for one timestep of raw values into `state`: the
    /// scaled values, or with a front end its output (each layer's history moved on by one step).
    @inline(__always)
    private func firstLayerInput(_ state: LSTMState, input: UnsafePointer<Float>) {
        guard !frontEnd.isEmpty else {
            scale(input, into: state.layerInput(0))
            return
        }
        // The scaled input, then each front-end layer's output, alternate between the two scratch
        // buffers; the last layer writes layer 0's input.
        scale(input, into: state.frontEndScratch(0))
        for (index, convolution) in frontEnd.enumerated() {
            let out = index + 1 < frontEnd.count ? state.frontEndScratch((index + 1) % 2) : state.layerInput(0)
            convolution.step(state.frontEndScratch(index % 2), history: state.frontEndHistory(index), output: out)
        }
    }

    /// Steps after a reset from which a front end's output no longer depends on the reset: its
    /// layers' receptive field, Σ (k − 1) (0 without a front end). At step `a` after a reset (0
    /// for the first), a front end with `a ≥ frontEndReach` has convolved only timesteps since
    /// the reset, none of the zeros it was reset to, so any state that consumed the same
    /// timesteps (reset at the same time or earlier) has the same front-end output.
    public var frontEndReach: Int { frontEnd.reduce(0) { $0 + $1.kernel - 1 } }

    /// Advances `state` by one timestep of `C` raw values given as an array.
    public func step(_ state: LSTMState, input: [Float]) {
        precondition(input.count == channels, "step needs \(channels) values, got \(input.count)")
        input.withUnsafeBufferPointer { step(state, input: $0.baseAddress!) }
    }

    /// Floats `projectInput(_:into:scratch:)` writes: 4·Hp per ensemble member.
    public var projectionCount: Int { ensemble * 4 * paddedHidden }

    /// The first layer's gate preactivations `W_ih·scale(x) + b` for one timestep of raw values,
    /// into `projection` [N·4·Hp] (member `i`'s at `i·4·Hp`). Several states that consume the same
    /// timestep (the staggered windows of one stream) share it through `step(_:projectedInput:)`.
    /// - Parameter scratch: at least `C` floats.
    public func projectInput(
        _ input: UnsafePointer<Float>, into projection: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(sharesInputProjection, "a model with a front end projects with projectInput(_:into:frontEndState:)")
        scale(input, into: scratch)
        project(UnsafePointer(scratch), into: projection)
        for (index, member) in otherMembers.enumerated() {
            member.projectInput(input, into: projection + (index + 1) * 4 * paddedHidden, scratch: scratch)
        }
    }

    /// `projectInput(_:into:scratch:)` for a model with a convolutional front end: advances the
    /// front end of `frontEndState` by one timestep of raw values and writes the first layer's
    /// gate preactivations of its output into `projection` [N·4·Hp]. Only `frontEndState`'s front
    /// end is advanced (its LSTM part is not used). The states that share the projection
    /// (`step(_:projectedInput:)`) must consume the same timesteps as `frontEndState` since
    /// their own last reset, which must not be earlier than its, and be `frontEndReach` steps
    /// past that reset (before, their front ends still convolve their reset's zeros: step them
    /// with `step(_:input:)`).
    public func projectInput(
        _ input: UnsafePointer<Float>, into projection: UnsafeMutablePointer<Float>, frontEndState state: LSTMState
    ) {
        precondition(supportsStep && !frontEnd.isEmpty, "a model without a front end projects with projectInput(_:into:scratch:)")
        firstLayerInput(state, input: input)
        project(UnsafePointer(state.layerInput(0)), into: projection)
        for (index, member) in otherMembers.enumerated() {
            member.projectInput(input, into: projection + (index + 1) * 4 * paddedHidden, frontEndState: state.members[index])
        }
    }

    /// `W_ih·x_0 + b` [4·Hp] of this model's own first layer (member 0's of an ensemble).
    @inline(__always)
    private func project(_ x: UnsafePointer<Float>, into projection: UnsafeMutablePointer<Float>) {
        let first = stepPlan.layers[0]
        lstmProject(
            projection, weights: first.fused, blockStride: first.blockStride,
            input: x, count: first.inputWidth, preactivation: first.bias, blocks: paddedHidden / 16)
    }

    /// Advances `state` by one timestep whose first-layer projection was computed by
    /// `projectInput(_:into:scratch:)` (or `projectInput(_:into:frontEndState:)`); only the
    /// recurrent part is computed here.
    public func step(_ state: LSTMState, projectedInput: UnsafePointer<Float>) {
        advance(state, projected: projectedInput)
        for (index, member) in otherMembers.enumerated() {
            member.advance(state.members[index], projected: projectedInput + (index + 1) * 4 * paddedHidden)
        }
    }

    /// One timestep of every layer with the fused gate product (`lstmCellStep`), the layer input
    /// `x_0` already in place; `projected`, when given, replaces layer 0's `W_ih·x + b`.
    func advance(_ state: LSTMState, projected: UnsafePointer<Float>?) {
        let plan = stepPlan
        let hp = paddedHidden
        let blocks = hp / 16
        for layer in 0..<state.layers {
            let packed = plan.layers[layer]
            let z = state.layerInput(layer)
            let out = state.layerOutput(layer)
            if layer == 0, let projected {
                lstmCellStep(
                    hidden: out, cell: state.cellVector(layer),
                    weights: packed.fused + packed.inputWidth * 64, blockStride: packed.blockStride,
                    input: z + packed.inputWidth, count: hp, preactivation: projected, blocks: blocks)
            } else {
                lstmCellStep(
                    hidden: out, cell: state.cellVector(layer),
                    weights: packed.fused, blockStride: packed.blockStride,
                    input: z, count: packed.inputWidth + hp, preactivation: packed.bias, blocks: blocks)
            }
            (z + packed.inputWidth).update(from: out, count: hp)
        }
        completeStep(state, top: state.topOutput)
    }

    /// The end of one timestep of `state`, whichever path computed its layers (`advance`, or
    /// `BatchStepper` on gathered rows): folds the top layer's new output `top` [Hp] into the
    /// attention pool (nothing for the `last` head) and counts the step.
    @inline(__always)
    func completeStep(_ state: LSTMState, top: UnsafePointer<Float>) {
        if let attention = stepPlan.attention {
            let pool = state.attentionPool
            attention.fold(
                sum: pool, largest: &pool[attention.width], total: &pool[attention.width + 1], top,
                first: state.steps == 0)
        }
        state.steps += 1
    }

    /// The class probabilities [K] for `state`: the head applied to the top layer's last output
    /// (`last`) or to the attention pool over every step since the last reset (`attention`).
    /// No allocation.
    public func classify(_ state: LSTMState, probabilities: UnsafeMutablePointer<Float>) {
        classify(state, probabilities: probabilities) { member in
            UnsafePointer(member == 0 ? state.topOutput : state.members[member - 1].topOutput)
        }
    }

    /// As `classify(_:probabilities:)` with member `i`'s top-layer output read from `top(i)` [Hp]
    /// (a row of `BatchStepper`, before it is scattered back). An ensemble adds every other
    /// member's probabilities in member order and divides by N.
    func classify(
        _ state: LSTMState, probabilities: UnsafeMutablePointer<Float>, top: (Int) -> UnsafePointer<Float>
    ) {
        classifyMember(state, top: top(0), probabilities: probabilities)
        guard !otherMembers.isEmpty else { return }
        let k = classCount
        for (index, (member, memberState)) in zip(otherMembers, state.members).enumerated() {
            let own = memberState.memberProbabilities(widest: member.head.widest)
            member.classifyMember(memberState, top: top(index + 1), probabilities: own)
            for j in 0..<k { probabilities[j] += own[j] }
        }
        let count = Float(ensemble)
        for j in 0..<k { probabilities[j] /= count }
    }

    /// The head of this model's own weights (member 0 of an ensemble) on `state`.
    private func classifyMember(_ state: LSTMState, top: UnsafePointer<Float>, probabilities: UnsafeMutablePointer<Float>) {
        let scratch = state.headScratch
        var features = top
        if let attention = stepPlan.attention {
            // Pooled vector into the second scratch half: the first dense layer reads it before
            // the second one overwrites it.
            let pool = state.attentionPool
            let target = scratch + head.widest
            attention.finish(target, sum: pool, total: pool[attention.width + 1])
            features = UnsafePointer(target)
        }
        applyHead(features: features, logits: nil, probabilities: probabilities, scratch: scratch)
    }

    /// The class probabilities for `state` as an array (allocates; for tools and tests).
    public func classify(_ state: LSTMState) -> [Float] {
        [Float](unsafeUninitializedCapacity: classCount) { buffer, count in
            classify(state, probabilities: buffer.baseAddress!)
            count = classCount
        }
    }
}
