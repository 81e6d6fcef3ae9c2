import Crypto
import Vocabulary

/// Community ID flow hashing, version 1 (https://github.com/corelight/community-id-spec): the
/// same connection gets the same id in Zeek, Suricata, Arkime and smtpscope.
public enum CommunityID {
    public static func v1(_ a: Endpoint, _ b: Endpoint, proto: UInt8 = 6, seed: UInt16 = 0) -> String {
        var src = a, dst = b
        var sa = src.address.bytes, da = dst.address.bytes
        if !(sa.lexicographicallyPrecedes(da) || (sa == da && src.port < dst.port)) {
            swap(&src, &dst)
            swap(&sa, &da)
        }
        // Built byte by byte into one buffer of the right size.
        var input: [UInt8] = []
        input.reserveCapacity(2 + sa.count + da.count + 6)
        input.append(UInt8(seed >> 8))
        input.append(UInt8(seed & 0xff))
        input += sa
        input += da
        input.append(proto)
        input.append(0)
        for port in [src.port, dst.port] {
            input.append(UInt8(port >> 8))
            input.append(UInt8(port & 0xff))
        }
        let digest = Insecure.SHA1.hash(data: input)
        return "1:" + Base64.encode(Array(digest))
    }
}
