// An app's own writes from Kotlin: create with the envelope back, update guarded by the
// version read (a stale version is a Conflict), purge that takes the bytes out of the file,
// and wipe.
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import kotlin.test.*
import org.junit.jupiter.api.Test

class RecordWritesTest {
    private val allergy = """{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p1"},""" +
        """"code":{"text":"Peanuts"},"note":[{"text":"Qwzxvk hives, self-reported"}]}"""

    private fun fileHolds(path: String, needle: String): Boolean {
        val wal = File("$path-wal")
        val bytes = File(path).readBytes() + (if (wal.exists()) wal.readBytes() else ByteArray(0))
        return String(bytes, Charsets.ISO_8859_1).contains(needle)
    }

    @Test
    fun `create, update with the version read, and a stale update is a Conflict`() {
        val store = tinyStore()
        val made = store.create(allergy)
        assertEquals("AllergyIntolerance", made.resourceType)
        assertEquals(1L, made.version)
        assertTrue(made.lastUpdatedMs > 1_700_000_000_000L, "epoch milliseconds")
        assertTrue(made.json.contains("urn:phrkit:entered-in-app"), made.json)
        val edited = made.json.replace("Peanuts", "Peanuts and tree nuts")
        val second = store.update(edited, made.version)
        assertEquals(2L, second.version)
        assertFailsWith<PhrException.Conflict> { store.update(edited, made.version) }
        assertFailsWith<PhrException.InvalidInput> { store.create("""{"resourceType":"Patient","gender":"sometimes"}""") }
        store.deleteVersion(made.resourceType, made.id, second.version)
        assertNull(store.get(made.resourceType, made.id))
    }

    @Test
    fun `purge removes a known value from the file, wipe empties the store`() {
        val path = File(tempDir(), "purge.db").path
        PhrStore.open(path).use { store ->
            store.importBytes("tiny.phr", tinyRecord())
            val made = store.create(allergy)
            assertTrue(fileHolds(path, "Qwzxvk"), "the check sees stored text")
            assertTrue(store.purge(made.resourceType, made.id))
            assertFalse(fileHolds(path, "Qwzxvk"), "no byte of it left")
            assertFalse(store.purge(made.resourceType, made.id))
            store.wipe()
            assertEquals(0uL, store.stats().versions)
            assertEquals(listOf<String>(), store.patientIds())
        }
    }
}
