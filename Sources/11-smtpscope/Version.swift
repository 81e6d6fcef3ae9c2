/// The version `smtpscope --version` prints. scripts/package-deb.sh reads this line to version the
/// Debian package (and checks the built binary says the same), so keep it a plain string literal on
/// one line.
let smtpscopeVersion = "0.1.0"
