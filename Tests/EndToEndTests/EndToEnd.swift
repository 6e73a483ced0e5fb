import Testing

/// Tests that run the real `lstmd` executable. Serialized: each starts its own daemon, and the
/// timing-sensitive ones (eviction, shutdown) should not compete for the two cores.
@Suite(.serialized) struct EndToEnd {}
