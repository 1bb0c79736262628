// The "records by type" list of the sample apps: plain Kotlin over the SDK's Stats.
package dev.phrkit.sample.logic

import dev.phrkit.Stats

/** One row of the records list: a resource type and how many the store holds. */
data class TypeRow(val type: String, val count: Long)

/** Types the store writes about itself (import runs, exports and shares), not records. */
val BOOKKEEPING_TYPES = setOf("Provenance", "AuditEvent")

/**
 * The store's resource types, most frequent first (ties by name), leaving out the
 * bookkeeping types a patient does not think of as records.
 */
fun typeRows(stats: Stats): List<TypeRow> =
    stats.byType
        .filterKeys { it !in BOOKKEEPING_TYPES }
        .map { (type, n) -> TypeRow(type, n.toLong()) }
        .sortedWith(compareByDescending<TypeRow> { it.count }.thenBy { it.type })
