import DrillCore

/// What one set's objects weigh, next to the other sets of the destination (for `list`, issue 15;
/// `restore-drill list` shows it: Sources/Jobs, `SetListing`). All sizes are bytes, the sizes the
/// references record.
package struct SetObjectBytes: Sendable, Equatable {
    /// The set.
    package var id: BackupID
    /// The distinct objects the set references (an object listed twice counts once): what a
    /// restore of it reads.
    package var referencedBytes: Int64
    /// The distinct objects no older set references: what the destination grew by with this set,
    /// had the sets been written oldest first with nothing pruned in between.
    package var newBytes: Int64
    /// The distinct objects no other set references, older or newer: what pruning this set alone
    /// would free.
    package var uniqueBytes: Int64

    /// - Parameters: as the properties.
    package init(id: BackupID, referencedBytes: Int64, newBytes: Int64, uniqueBytes: Int64) {
        self.id = id
        self.referencedBytes = referencedBytes
        self.newBytes = newBytes
        self.uniqueBytes = uniqueBytes
    }
}

/// Per-set new and unique bytes from the sets' object references: a pure function of its input.
package enum ObjectAccounting {
    /// Works out ``SetObjectBytes`` for every set.
    ///
    /// Sets are taken in id order (oldest first: ids are UTC start times), whatever the order
    /// given; sets with the same id keep their given order. Objects are identified by digest; when
    /// two references to one digest record different sizes (only a damaged or forged manifest can
    /// say that), the size of the first reference in set order counts.
    /// - Parameter sets: each set's id and the objects its manifest lists (duplicates allowed).
    /// - Returns: one entry per set, in id order. The sum of ``SetObjectBytes/newBytes`` is the
    ///   bytes of every distinct object referenced.
    package static func bytesPerSet(_ sets: [(id: BackupID, objects: [ObjectRef])]) -> [SetObjectBytes] {
        let ordered = sets.enumerated()
            .sorted { ($0.element.id, $0.offset) < ($1.element.id, $1.offset) }
            .map(\.element)
        var size: [ObjectDigest: Int64] = [:]
        var users: [ObjectDigest: Int] = [:]
        let distinct = ordered.map { set -> [ObjectDigest] in
            var seen = Set<ObjectDigest>()
            var digests: [ObjectDigest] = []
            for ref in set.objects where seen.insert(ref.digest).inserted {
                digests.append(ref.digest)
                if size[ref.digest] == nil { size[ref.digest] = ref.size }
                users[ref.digest, default: 0] += 1
            }
            return digests
        }
        var earlier = Set<ObjectDigest>()
        return zip(ordered, distinct).map { set, digests in
            var result = SetObjectBytes(id: set.id, referencedBytes: 0, newBytes: 0, uniqueBytes: 0)
            for digest in digests {
                let bytes = size[digest] ?? 0
                result.referencedBytes += bytes
                if !earlier.contains(digest) { result.newBytes += bytes }
                if users[digest] == 1 { result.uniqueBytes += bytes }
            }
            earlier.formUnion(digests)
            return result
        }
    }
}
