import Foundation
import TestSupport

@testable import DrillCore
@testable import Vault

extension TempFolder {
    /// Writes a password file with mode 0600 for the openssl CLI (`-pass file:`).
    func passwordFile(_ password: VaultPassword, name: String = "password") throws -> String {
        let p = file(name)
        try password.write(toNewFileAt: p)
        return p
    }
}

/// Bytes that differ from run to run (the vault must not depend on a pattern).
func randomBytes(_ count: Int) -> Data {
    var g = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        var word = g.next() as UInt64
        for _ in 0..<8 where i < count {
            bytes[i] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            i += 1
        }
    }
    return Data(bytes)
}
