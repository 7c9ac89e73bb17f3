/// What ``RefreshCoordinator/drain(upTo:)`` found: the upstream refreshes in flight when it began, and how many
/// of them finished (and stored their result) before it stopped waiting.
public struct RefreshDrain: Sendable, Equatable {
    /// Refreshes in flight when the drain began.
    public var inFlight: Int
    /// Those that finished in time.
    public var finished: Int

    /// A drain of `inFlight` refreshes, `finished` of them in time.
    public init(inFlight: Int, finished: Int) {
        self.inFlight = inFlight
        self.finished = finished
    }
}
