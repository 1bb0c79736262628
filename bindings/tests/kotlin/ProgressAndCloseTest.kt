// Progress callbacks during import and export, cancellation that leaves the store as it was,
// and closing a store (ours, and AutoCloseable's).
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import kotlin.test.*
import org.junit.jupiter.api.Test

class ProgressAndCloseTest {
    @Test
    fun `import reports bytes and export reports resources`() {
        val fixture = syntheaFixture()
        val store = newStore()
        val importing = RecordingListener()
        store.importFile(fixture.path, listener = importing)
        val phases = importing.calls.map { it.first }.toSet()
        assertTrue(ProgressPhase.IMPORTING in phases && ProgressPhase.COMMITTING in phases, "$phases")
        val last = importing.calls.last()
        assertEquals(fixture.length().toULong(), last.third, "total = file size in bytes")
        assertEquals(last.third, last.second, "all bytes read by the commit")

        val exporting = RecordingListener()
        val result = store.exportToFile(File(tempDir(), "r.phr").path, ExportRequest(format = ExportFormat.PHR), exporting)
        val (phase, done, total) = exporting.calls.last()
        assertEquals(ProgressPhase.EXPORTING, phase)
        assertEquals(result.resources, done)
        assertEquals(result.resources, total)
    }

    @Test
    fun `a cancelled import leaves the store exactly as it was`() {
        val fixture = syntheaFixture()
        val store = tinyStore()
        val before = store.stats()
        val listener = RecordingListener(cancelAfter = 1)
        assertFailsWith<PhrException.Cancelled> { store.importFile(fixture.path, listener = listener) }
        assertEquals(1, listener.calls.size, "no call after cancelling")
        assertEquals(before, store.stats())
        // The store still works after a cancel.
        assertTrue(store.importFile(fixture.path).committed)
    }

    @Test
    fun `cancelling in the commit phase still rolls back`() {
        val fixture = syntheaFixture()
        val store = newStore()
        val atCommit = object : ProgressListener {
            override fun onProgress(phase: ProgressPhase, done: ULong, total: ULong?) = phase != ProgressPhase.COMMITTING
        }
        assertFailsWith<PhrException.Cancelled> { store.importFile(fixture.path, listener = atCommit) }
        assertEquals(0uL, store.stats().versions)
        assertEquals(0uL, store.stats().runs)
    }

    @Test
    fun `closeStore releases the file, later calls fail with Closed, twice is fine`() {
        val path = File(tempDir(), "c.db").path
        val store = PhrStore.open(path)
        store.importBytes("tiny.phr", tinyRecord())
        store.closeStore()
        store.closeStore()
        assertFailsWith<PhrException.Closed> { store.get("Patient", "p1") }
        assertFailsWith<PhrException.Closed> { store.importBytes("tiny.phr", tinyRecord()) }
        assertFailsWith<PhrException.Closed> { store.share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full)) }
        // The file is intact and opens again.
        PhrStore.open(path).use { again -> assertEquals(listOf("p1"), again.patientIds()) }
    }

    @Test
    fun `AutoCloseable close frees the native object`() {
        val store = tinyStore()
        store.use { assertEquals(1uL, it.count("Patient")) }
        assertFailsWith<IllegalStateException> { store.count() }
    }

    @Test
    fun `a search and an export answer while an import holds the writer`() {
        val store = tinyStore()
        var seen: List<String>? = null
        var exported: ExportResult? = null
        var failure: Throwable? = null
        var waitedForImport = false
        // The import's first report comes once its transaction holds the store's writer; the
        // import goes on only when the reads on the other thread are done (or 60 s passed).
        val hook = object : ProgressListener {
            var fired = false
            override fun onProgress(phase: ProgressPhase, done: ULong, total: ULong?): Boolean {
                if (!fired) {
                    fired = true
                    val reader = Thread {
                        try {
                            seen = store.patientIds()
                            exported = store.exportToFile(File(tempDir(), "during.phr").path, ExportRequest(format = ExportFormat.PHR))
                        } catch (t: Throwable) {
                            failure = t
                        }
                    }
                    reader.start()
                    reader.join(60_000)
                    waitedForImport = reader.isAlive
                }
                return true
            }
        }
        assertTrue(store.importFile(syntheaFixture().path, listener = hook).committed)
        assertFalse(waitedForImport, "the reads did not wait for the import")
        assertNull(failure)
        assertEquals(listOf("p1"), seen, "the import's patient is not visible yet")
        assertTrue(exported!!.resources > 0uL)
        assertTrue(store.patientIds().size > 1, "the import committed")
    }

    @Test
    fun `two threads share one store safely`() {
        val store = newStore()
        val threads = (1..4).map { n ->
            Thread { store.importBytes("t$n.phr", tinyRecord("p$n")) }.apply { start() }
        }
        threads.forEach { it.join() }
        assertEquals(listOf("p1", "p2", "p3", "p4"), store.patientIds())
    }
}
