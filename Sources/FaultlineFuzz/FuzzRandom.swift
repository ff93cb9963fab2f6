// The fuzzers' random numbers: SplitMix64, seeded, so that every mutation can be made
// again from (seed, iteration) alone. Each iteration gets its own generator, so a run can
// start at any iteration and still produce the same inputs.

public struct FuzzRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The generator of one iteration of a run: independent of every other iteration.
    public init(seed: UInt64, iteration: UInt64) {
        var mixer = FuzzRandom(seed: seed ^ (iteration &* 0xD1B5_4A32_D192_ED03))
        state = mixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    /// True with probability 1/n.
    public mutating func oneIn(_ n: Int) -> Bool { Int.random(in: 0..<max(n, 1), using: &self) == 0 }

    public mutating func pick<T>(_ choices: [T]) -> T { choices[Int.random(in: 0..<choices.count, using: &self)] }
}
