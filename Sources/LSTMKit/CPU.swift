import Foundation

/// The processor this process runs on, as Linux describes it in `/proc/cpuinfo`: what the
/// benchmarks print and what the instruction-set path and the GEMM kernels are chosen from
/// (feature flags, never model numbers, so an unknown newer CPU gets the path its flags allow).
public struct CPU: Sendable, Equatable {
    /// `model name`, as `lscpu` prints it ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8570").
    public let modelName: String
    /// `vendor_id`: "GenuineIntel", "AuthenticAMD", …
    public let vendor: String
    /// `cpu family` (decimal).
    public let family: Int
    /// `model` (decimal).
    public let model: Int
    /// `flags`: "avx2", "fma", "avx512f", "amx_tile", …
    public let flags: Set<String>

    /// The CPU of this machine (the first processor's entry; unknown fields are empty or 0).
    public static let current = CPU(cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")

    /// Parses the first processor's block of `/proc/cpuinfo` text.
    public init(cpuinfo text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if !fields.isEmpty { break }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        modelName = fields["model name"] ?? "unknown"
        vendor = fields["vendor_id"] ?? "unknown"
        family = Int(fields["cpu family"] ?? "") ?? 0
        model = Int(fields["model"] ?? "") ?? 0
        flags = Set((fields["flags"] ?? "").split(separator: " ").map(String.init))
    }

    /// AVX2 and FMA: what the x86-64-v3 kernels need.
    public var hasAVX2: Bool { flags.isSuperset(of: ["avx", "avx2", "fma"]) }
    /// AVX-512 F, DQ, BW and VL (Skylake-SP and every AVX-512 server since, Zen 4 and later).
    public var hasAVX512: Bool { hasAVX2 && flags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]) }
    /// Intel AMX tiles (Sapphire Rapids and later).
    public var hasAMX: Bool { flags.contains("amx_tile") }

    /// The vector extensions that matter here, e.g. "AVX2+FMA" or "AVX-512+AMX".
    public var vectorSummary: String {
        if hasAVX512 { return hasAMX ? "AVX-512+AMX" : "AVX-512" }
        if hasAVX2 { return "AVX2+FMA" }
        return flags.contains("avx") ? "AVX" : "SSE only"
    }
}

/// The instruction-set path lstmd's numeric code runs: `LSTMD_ISA=avx2|avx512` when set (an error
/// when the CPU lacks it), else the widest the CPU has.
public enum ISA: String, Sendable, CaseIterable {
    case avx2
    case avx512

    /// Why `LSTMD_ISA` cannot be honoured.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The path for `cpu` given the environment.
    /// - Throws: `Unavailable` when `LSTMD_ISA` names no path or one the CPU cannot run.
    public static func select(cpu: CPU, environment: [String: String]) throws(Unavailable) -> ISA {
        guard let requested = environment["LSTMD_ISA"], !requested.isEmpty else {
            return cpu.hasAVX512 ? .avx512 : .avx2
        }
        guard let isa = ISA(rawValue: requested.lowercased()) else {
            throw Unavailable(description: "LSTMD_ISA='\(requested)' is not one of avx2, avx512")
        }
        switch isa {
        case .avx512 where !cpu.hasAVX512:
            throw Unavailable(description: "LSTMD_ISA=avx512 but this CPU (\(cpu.modelName)) lacks AVX-512 F/DQ/BW/VL")
        case .avx2 where !cpu.hasAVX2:
            throw Unavailable(description: "LSTMD_ISA=avx2 but this CPU (\(cpu.modelName)) lacks AVX2/FMA")
        default:
            return isa
        }
    }

    /// This process's path, decided once.
    static let chosen: Result<ISA, Unavailable> = {
        do throws(Unavailable) {
            return .success(try select(cpu: .current, environment: ProcessInfo.processInfo.environment))
        } catch {
            return .failure(error)
        }
    }()

    /// Checks `LSTMD_ISA` against this CPU; programs call this at start so a bad value is a
    /// clear error before any work.
    /// - Throws: `Unavailable`.
    public static func validateEnvironment() throws(Unavailable) { _ = try chosen.get() }

    /// This process's path (`validateEnvironment()` reports a bad `LSTMD_ISA` first).
    public static var current: ISA {
        switch chosen {
        case .success(let isa): return isa
        case .failure(let error): preconditionFailure(error.description)
        }
    }
}
