extension Configuration {
    /// The tcp:// endpoints whose host is not loopback (127.0.0.0/8, ::1, localhost, lo), by
    /// role (`ingest`, `publish`, `control`), in configuration order.
    public var nonLoopbackTCPEndpoints: [(role: String, endpoint: String)] {
        [("ingest", ingestEndpoints), ("publish", publishEndpoints), ("control", controlEndpoints)].flatMap { role, endpoints in
            endpoints.filter { $0.hasPrefix("tcp://") && !Self.isLoopback(tcpEndpoint: $0) }.map { (role, $0) }
        }
    }

    /// Whether a `tcp://HOST:PORT` endpoint binds only loopback: HOST is an address in
    /// 127.0.0.0/8, `::1` (bracketed or not), `localhost` or the interface `lo`. Everything else
    /// (`*`, `0.0.0.0`, another address or interface) is not.
    public static func isLoopback(tcpEndpoint endpoint: String) -> Bool {
        let address = endpoint.dropFirst("tcp://".count)
        var host = address[..<(address.lastIndex(of: ":") ?? address.endIndex)]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if host == "::1" || host == "localhost" || host == "lo" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The start-up check of the loopback rule: without CURVE, an endpoint beyond loopback needs
    /// `insecure_tcp`.
    /// - Returns: the warning to log when `insecure_tcp` allows such endpoints, else nil.
    /// - Throws: `DaemonError` naming the endpoint's key, the endpoint and both remedies.
    func checkTransportSecurity() throws -> String? {
        guard curveDirectory == nil, let (role, endpoint) = nonLoopbackTCPEndpoints.first else { return nil }
        guard insecureTCP else {
            throw DaemonError(
                "plain TCP endpoint \(endpoint) is not loopback: set curve_directory to require CURVE authentication "
                    + "(see README, Authentication), or set insecure_tcp = true to accept that any host that reaches it "
                    + "can inject frames, read labels and control lstmd", key: role)
        }
        let all = nonLoopbackTCPEndpoints.map(\.endpoint).joined(separator: ", ")
        return "plain TCP on a non-loopback endpoint (\(all)): any host that reaches it can inject frames, read labels and control lstmd (insecure_tcp = true)"
    }
}
