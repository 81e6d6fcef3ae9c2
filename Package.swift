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
    // Sources/ reads top-down in the pipeline's order: capture → packets → reassembly → (stream
    // transforms: TLS) → SMTP → sessions → correlation → findings → reporting, with the shared
    // vocabulary first, the pipeline that wires the stages (and puts them on threads) after them,
    // and the command line on top. Arrows point one way: each target depends only on those above it.
    targets: [
        .target(name: "Vocabulary", path: "Sources/00-Vocabulary"),
        .systemLibrary(
            name: "CPcap",
            path: "Sources/01-Capture/CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/01-Capture/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(name: "Capture", dependencies: ["CPcap", "CZlib", "Vocabulary"], path: "Sources/01-Capture/Capture"),
        .target(name: "Packets", dependencies: ["Vocabulary"], path: "Sources/02-Packets"),
        .target(name: "Reassembly", dependencies: ["Vocabulary", "Packets"], path: "Sources/03-Reassembly"),
        // Pure TLS layer: records, handshakes, fingerprints, key logs and decryption. No I/O, and
        // nothing about SMTP: bytes of each direction in, events out. `_CryptoExtras` (AES-CBC) is
        // the module name that swift-crypto 3.x and 4.x both provide.
        .target(
            name: "TLS",
            dependencies: [
                "Vocabulary",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            path: "Sources/04-TLS"
        ),
        // SMTP uses Crypto only for SHA-256 of message parts.
        .target(name: "SMTP", dependencies: ["Vocabulary", .product(name: "Crypto", package: "swift-crypto")], path: "Sources/05-SMTP"),
        // Pure mail server log reader (Postfix, Exim, Sendmail, Exchange): lines in, connections and
        // messages out. Sessions carry what the join matched to them.
        .target(name: "ServerLog", dependencies: ["Vocabulary"], path: "Sources/06-ServerLog"),
        .target(name: "Sessions", dependencies: ["Vocabulary", "SMTP", "TLS", "ServerLog"], path: "Sources/06-Sessions"),
        .target(name: "Correlation", dependencies: ["Vocabulary", "SMTP", "Sessions", "ServerLog"], path: "Sources/07-Correlation"),
        .target(name: "Findings", dependencies: ["Vocabulary", "SMTP", "Sessions", "Correlation", "ServerLog"], path: "Sources/08-Findings"),
        .target(
            name: "Reporting",
            dependencies: ["Vocabulary", "SMTP", "Sessions", "Correlation", "Findings", "ServerLog", .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/09-Reporting"
        ),
        .target(
            name: "Pipeline",
            dependencies: ["Vocabulary", "Packets", "Capture", "Reassembly", "TLS", "SMTP", "Sessions", "ServerLog", "Correlation", "Findings", "Reporting"],
            path: "Sources/10-Pipeline"
        ),
        .executableTarget(
            name: "smtpscope",
            dependencies: ["Pipeline", "Capture", "Correlation", "Findings", "Reporting", "TLS", "ServerLog", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/11-smtpscope"
        ),
        .testTarget(name: "PacketsTests", dependencies: ["Packets", "Vocabulary"]),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "Packets", "Reassembly", "Vocabulary", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "ReassemblyTests", dependencies: ["Reassembly", "Packets", "Vocabulary"]),
        .testTarget(name: "SMTPTests", dependencies: ["SMTP", "Sessions", "Vocabulary", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "TLSTests",
            dependencies: ["TLS", "Vocabulary", "Capture", "Packets", "Reassembly", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "SessionsTests", dependencies: ["Sessions", "SMTP", "Vocabulary"]),
        .testTarget(name: "ServerLogTests", dependencies: ["ServerLog", "Vocabulary"]),
        .testTarget(name: "CorrelationTests", dependencies: ["Correlation", "Sessions", "SMTP", "Vocabulary"]),
        .testTarget(name: "FindingsTests", dependencies: ["Findings", "Sessions", "SMTP", "Vocabulary", "ServerLog", "Correlation"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Findings", "Correlation", "Sessions", "SMTP", "Vocabulary"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Pipeline", "SMTP", "Reporting", "Sessions", "Correlation", "Findings", "Capture", "TLS", "Vocabulary", "ServerLog", .product(name: "Crypto", package: "swift-crypto")]),
    ],
    swiftLanguageModes: [.v6]
)

// Release builds skip the run-time exclusivity checks: the decoders are single-threaded and the
// checks cost several percent on the per-packet path (measured with Benchmarks/run.sh).
for target in package.targets where target.type != .system && target.type != .test {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]
}
