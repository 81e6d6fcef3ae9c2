import Crypto
import ScopeCore

/// Community ID flow hashing, version 1 (https://github.com/corelight/community-id-spec): the
/// same connection gets the same id in Zeek, Suricata, Arkime and smtpscope.
public enum CommunityID {
    public static func v1(_ a: Endpoint, _ b: Endpoint, proto: UInt8 = 6, seed: UInt16 = 0) -> String {
        var src = a, dst = b
        let sa = src.address.bytes, da = dst.address.bytes
        if !(sa.lexicographicallyPrecedes(da) || (sa == da && src.port < dst.port)) { swap(&src, &dst) }
        var input: [UInt8] = [UInt8(seed >> 8), UInt8(seed & 0xff)]
        input += src.address.bytes
        input += dst.address.bytes
        input += [proto, 0]
        input += [UInt8(src.port >> 8), UInt8(src.port & 0xff), UInt8(dst.port >> 8), UInt8(dst.port & 0xff)]
        let digest = Insecure.SHA1.hash(data: input)
        return "1:" + Base64.encode(Array(digest))
    }
}
