// swift-tools-version:6.0
import PackageDescription

// Layout: arrows point one way. Only `Capture` calls libpcap (and zlib, for compressed captures);
// `Packets`, `Reassembly`, `SMTP` and `Sessions` are pure decoders (bytes in, values out) that can
// be tested from literals.
//
// Platforms: Linux (glibc) only, so no `platforms:` entry. Reading captures uses glibc's `read`,
// `close` and `fopencookie`, and the live capture's stop flag `Synchronization.Atomic` (macOS 15 and
// later); nothing is built or tested on macOS.
let package = Package(
    name: "smtpscope",
    products: [
        .executable(name: "smtpscope", targets: ["smtpscope"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(name: "ScopeCore"),
        .target(name: "Packets", dependencies: ["ScopeCore"]),
        .target(name: "Capture", dependencies: ["CPcap", "CZlib", "ScopeCore"]),
        .target(name: "Reassembly", dependencies: ["ScopeCore", "Packets"]),
        .target(name: "SMTP", dependencies: ["ScopeCore"]),
        .target(name: "Sessions", dependencies: ["ScopeCore", "SMTP"]),
        // Pure TLS layer: records, handshakes, fingerprints, key logs and decryption. No I/O, and
        // nothing about SMTP: bytes of each direction in, events out. `_CryptoExtras` (AES-CBC) is
        // the module name that swift-crypto 3.x and 4.x both provide.
        .target(
            name: "TLS",
            dependencies: [
                "ScopeCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(name: "Correlation", dependencies: ["ScopeCore", "SMTP", "Sessions"]),
        .target(name: "Findings", dependencies: ["ScopeCore", "SMTP", "Sessions", "Correlation"]),
        .target(
            name: "Reporting",
            dependencies: ["ScopeCore", "SMTP", "Sessions", "Correlation", "Findings", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "Engine",
            dependencies: ["ScopeCore", "Packets", "Capture", "Reassembly", "SMTP", "Sessions", "Correlation", "Findings", "Reporting"]
        ),
        .executableTarget(
            name: "smtpscope",
            dependencies: ["Engine", "Capture", "Correlation", "Findings", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "PacketsTests", dependencies: ["Packets", "ScopeCore"]),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "Packets", "Reassembly", "ScopeCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "ReassemblyTests", dependencies: ["Reassembly", "Packets", "ScopeCore"]),
        .testTarget(name: "SMTPTests", dependencies: ["SMTP", "Sessions", "ScopeCore"]),
        .testTarget(
            name: "TLSTests",
            dependencies: ["TLS", "ScopeCore", "Capture", "Packets", "Reassembly", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "SessionsTests", dependencies: ["Sessions", "SMTP", "ScopeCore"]),
        .testTarget(name: "CorrelationTests", dependencies: ["Correlation", "Sessions", "SMTP", "ScopeCore"]),
        .testTarget(name: "FindingsTests", dependencies: ["Findings", "Sessions", "SMTP", "ScopeCore"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Findings", "Correlation", "Sessions", "SMTP", "ScopeCore"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Engine", "Reporting", "Sessions", "Correlation", "Findings", "Capture", "ScopeCore"]),
    ],
    swiftLanguageModes: [.v6]
)

// Release builds skip the run-time exclusivity checks: the decoders are single-threaded and the
// checks cost several percent on the per-packet path (measured with Benchmarks/run.sh).
for target in package.targets where target.type != .system && target.type != .test {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]
}
