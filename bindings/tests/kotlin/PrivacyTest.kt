// Privacy features reached from Kotlin: sensitive resources stay home unless chosen (and the
// result says so), the access log records exports and shares.
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import kotlin.test.*
import org.junit.jupiter.api.Test

class PrivacyTest {
    private val hivCondition = """{"resourceType":"Condition","id":"s1","subject":{"reference":"Patient/p1"},""" +
        """"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HIV"}]},""" +
        """"code":{"text":"private"}}""" + "\n"

    @Test
    fun `sensitive resources are left out unless included and the result counts them`() {
        val store = newStore()
        store.importBytes("record.phr", tinyRecord() + hivCondition.toByteArray())
        val dir = tempDir()
        val plain = store.exportToFile(File(dir, "a.ndjson").path, ExportRequest(format = ExportFormat.NDJSON))
        assertEquals(1uL, plain.excluded["hiv"])
        assertFalse(File(plain.path).readText().contains("\"s1\""))
        val all = store.exportToFile(
            File(dir, "b.ndjson").path,
            ExportRequest(format = ExportFormat.NDJSON, includeSensitive = listOf("hiv")),
        )
        assertTrue(all.excluded.isEmpty())
        assertTrue(File(all.path).readText().contains("\"s1\""))
        assertFailsWith<PhrException.InvalidInput> {
            store.exportToFile(File(dir, "c.ndjson").path, ExportRequest(format = ExportFormat.NDJSON, includeSensitive = listOf("gossip")))
        }
    }

    @Test
    fun `every export is in the access log`() {
        val store = tinyStore()
        val dir = tempDir()
        store.exportToFile(File(dir, "a.json").path, ExportRequest(format = ExportFormat.BUNDLE))
        store.exportToFile(File(dir, "b.phr").path, ExportRequest(format = ExportFormat.PHR))
        val log = store.accessLog(null)
        assertEquals(listOf("export", "export"), log.map { it.action })
        assertTrue(log.first().description.contains("as phr"), log.first().description)
    }
}
