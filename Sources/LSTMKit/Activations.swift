/// Vectorised exponential, sigmoid and tanh over 16 lanes.
///
/// `exp` uses Cody–Waite range reduction `x = n·ln2 + r`, |r| ≤ ln2/2, a degree-6 polynomial for
/// `e^r` and builds `2^n` from the exponent bits (the 1.5·2²³ rounding trick, no int conversion).
/// Inputs are clamped to [-87, 88] so results stay finite and normal.
///
/// Error bounds, tested against `Double` on a dense grid (see `ActivationTests`):
/// - `sigmoid`: absolute error ≤ 1e-7 (2⁻²³ ≈ 1.19e-7) over all of `Float`.
/// - `tanh`: absolute error ≤ 3e-7 over all of `Float`.
public enum Activations {
    public typealias Vector = SIMD16<Float>

    /// 1.5 · 2²³: adding it rounds a float to an integer held in the low mantissa bits.
    @inline(__always) static var magic: Vector { Vector(repeating: 12_582_912) }

    /// `e^x` per lane, relative error ≤ 3e-7 for x in [-87, 88].
    @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        var x = x.replacing(with: 88, where: x .> 88)
        x.replace(with: -87, where: x .< -87)
        // n = round(x / ln2), kept as a float: adding 1.5·2²³ rounds to an integer.
        let shifted = x.addingProduct(x, Vector(repeating: 0.442_695_04)) + magic
        let n = shifted - magic
        // r = x - n·ln2 in two steps (Cody–Waite), |r| ≤ ln2/2.
        var r = x.addingProduct(n, Vector(repeating: -0.693_359_375))
        r = r.addingProduct(n, Vector(repeating: 2.121_944_4e-4))
        return scale(polynomial(r), byPowerOfTwo: shifted)
    }

    @inline(__always)
    static func polynomial(_ r: Vector) -> Vector {
        var p = Vector(repeating: 1.388_888_9e-3)  // 1/720
        p = Vector(repeating: 8.333_333_3e-3).addingProduct(p, r)  // 1/120
        p = Vector(repeating: 4.166_666_6e-2).addingProduct(p, r)  // 1/24
        p = Vector(repeating: 1.666_666_7e-1).addingProduct(p, r)  // 1/6
        p = Vector(repeating: 0.5).addingProduct(p, r)
        p = Vector(repeating: 1).addingProduct(p, r)
        return Vector(repeating: 1).addingProduct(p, r)
    }

    /// `p · 2ⁿ` where `shifted = n + 1.5·2²³` holds the integer n in its low mantissa bits.
    @inline(__always)
    static func scale(_ p: Vector, byPowerOfTwo shifted: Vector) -> Vector {
        let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let power = unsafeBitCast((bits &+ 127) &<< 23, to: Vector.self)
        return p * power
    }

    /// The logistic function `1 / (1 + e^-x)` per lane.
    @inline(__always)
    public static func sigmoid(_ x: Vector) -> Vector {
        1 / (1 + exp(-x))
    }

    /// `tanh x = 2·sigmoid(2x) - 1` per lane.
    @inline(__always)
    public static func tanh(_ x: Vector) -> Vector {
        2 / (1 + exp(-2 * x)) - 1
    }
}
