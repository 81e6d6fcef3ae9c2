import Foundation
import Testing

/// The Debian package (scripts/package-deb.sh) without its release build, which takes minutes:
/// the version it would write is the one `smtpscope --version` prints, its control file is one
/// dpkg accepts, and a binary that needs the Swift runtime's shared libraries is refused.
/// Installing the package on a fresh Debian is scripts/test-deb.sh (root, debootstrap).
@Suite struct PackagingTests {
    static let script = repoRoot.appendingPathComponent("scripts/package-deb.sh").path

    /// Runs `executable` with `arguments` in `directory`, the environment this one's plus `environment`.
    static func run(_ executable: String, _ arguments: [String], in directory: URL = repoRoot, environment: [String: String] = [:]) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = directory
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-packaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func packageVersionIsWhatTheBinarySays() throws {
        let binary = try runCLI(["--version"])
        let package = try Self.run(Self.script, ["--print-version"])
        #expect(binary.status == 0 && package.status == 0)
        #expect(!binary.stdout.isEmpty)
        #expect(package.stdout == binary.stdout, "package-deb.sh would package \(package.stdout) as smtpscope --version says \(binary.stdout)")
    }

    /// The dry run's control file goes into a package of its own, built and read back by dpkg-deb,
    /// which rejects a malformed field, package name or version.
    @Test func dryRunControlFileIsOneDpkgAccepts() throws {
        let dry = try Self.run(Self.script, ["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("DEBIAN"), withIntermediateDirectories: true)
        try dry.stdout.write(to: root.appendingPathComponent("DEBIAN/control"), atomically: true, encoding: .utf8)
        let deb = dir.appendingPathComponent("control-only.deb").path
        let build = try Self.run("/usr/bin/dpkg-deb", ["--build", "--root-owner-group", root.path, deb])
        #expect(build.status == 0, "dpkg-deb refuses the control file: \(build.stderr)")

        func field(_ name: String) throws -> String {
            try Self.run("/usr/bin/dpkg-deb", ["--field", deb, name]).stdout.trimmingCharacters(in: .newlines)
        }
        let version = try runCLI(["--version"]).stdout.trimmingCharacters(in: .newlines)
        let arch = try Self.run("/usr/bin/dpkg", ["--print-architecture"]).stdout.trimmingCharacters(in: .newlines)
        #expect(try field("Package") == "smtpscope")
        #expect(try field("Version") == version)
        #expect(try field("Architecture") == arch)
        let depends = try field("Depends").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? "" }
        for library in ["libc6", "libpcap0.8", "zlib1g"] {
            #expect(depends.contains(library), "Depends lacks \(library): \(depends)")
        }
        let description = try field("Description").split(separator: "\n")
        #expect(description.count > 3, "a synopsis and a long description")
    }

    /// A binary linked against the toolchain's libswiftCore.so (the debug build is) would not run
    /// where the package is installed: the script stops before writing anything.
    @Test func binaryNeedingTheSwiftRuntimeIsRefused() throws {
        let debug = try #require(smtpscopeBinary())
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let release = dir.appendingPathComponent("scratch/release")
        try FileManager.default.createDirectory(at: release, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: release.appendingPathComponent("smtpscope"), withDestinationURL: debug)
        let r = try Self.run(Self.script, ["--no-build"], in: dir, environment: ["SCRATCH": dir.appendingPathComponent("scratch").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("which no installed Debian package provides"), "\(r.stderr)")
        let written = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".deb") }
        #expect(written.isEmpty)
    }
}
