// Each store feature an app needs, reached from Kotlin: import (file, bytes, options,
// validate mode), get, search, count, delete, stats, patients, capability statement, export
// in every format.
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import kotlin.test.*
import org.junit.jupiter.api.Test

class StoreApiTest {
    @Test
    fun `importBytes reports counts per type and line-numbered issues`() {
        val store = newStore()
        val bad = tinyRecord() + "this is not json\n".toByteArray()
        val report = store.importBytes("messy.phr", bad)
        assertTrue(report.committed)
        assertEquals(1uL, report.byType["Patient"]?.created)
        assertEquals(1uL, report.byType["Observation"]?.created)
        assertEquals(1uL, report.unreadableLines)
        val issue = report.issues.first { it.line == 3uL }
        assertEquals(IssueSeverity.ERROR, issue.severity)
        assertTrue(report.summary.startsWith("2 created"), report.summary)
    }

    @Test
    fun `importFile reads a file and a second import changes nothing`() {
        val file = File(tempDir(), "tiny.phr").apply { writeBytes(tinyRecord()) }
        val store = newStore()
        assertEquals(2uL, store.importFile(file.path).totals.created)
        val again = store.importFile(file.path)
        assertFalse(again.committed)
        assertEquals(2uL, again.totals.unchanged)
        assertTrue(again.summary.contains("no changes"), again.summary)
    }

    @Test
    fun `validate mode says what a commit would do and writes nothing`() {
        val store = newStore()
        val report = store.importBytes("tiny.phr", tinyRecord(), ImportOptions(mode = ImportMode.VALIDATE))
        assertTrue(report.validateOnly)
        assertFalse(report.committed)
        assertEquals(2uL, report.totals.created)
        assertEquals(0uL, store.count())
    }

    @Test
    fun `conflict policies and append strategy reach the core`() {
        val store = tinyStore()
        val changed = tinyRecord().decodeToString().replace("\"value\":70", "\"value\":71").toByteArray()
        assertFailsWith<PhrException.Conflict> {
            store.importBytes("changed.phr", changed, ImportOptions(conflict = ConflictPolicy.FAIL))
        }
        val kept = store.importBytes("changed.phr", changed, ImportOptions(conflict = ConflictPolicy.KEEP_EXISTING))
        assertEquals(1uL, kept.totals.conflicts)
        assertTrue(store.get("Observation", "p1-o1")!!.contains("\"value\":70"))
        store.importBytes("changed.phr", changed, ImportOptions(conflict = ConflictPolicy.REPLACE))
        assertTrue(store.get("Observation", "p1-o1")!!.contains("\"value\":71"))
        val appended = store.importBytes("changed2.phr",
            changed.decodeToString().replace("71", "72").toByteArray(), ImportOptions(strategy = Strategy.APPEND))
        assertEquals(1uL, appended.byType["Observation"]?.created)
        assertEquals(2uL, store.count("Observation"))
    }

    @Test
    fun `quarantine keeps invalid resources apart`() {
        val store = newStore()
        val invalid = """{"resourceType":"Patient","id":"q1","gender":"sometimes"}""" + "\n"
        val report = store.importBytes("bad.phr", invalid.toByteArray(), ImportOptions(onInvalid = OnInvalid.QUARANTINE))
        assertEquals(1uL, report.totals.quarantined)
        assertEquals(1uL, store.stats().quarantined)
        assertNull(store.get("Patient", "q1"))
    }

    @Test
    fun `get, search, count, delete, stats and patient ids`() {
        val store = tinyStore()
        assertTrue(store.get("Patient", "p1")!!.contains("\"family\":\"Doe\""))
        assertNull(store.get("Patient", "nobody"))
        assertEquals(listOf("p1"), store.patientIds())
        assertEquals(3, store.search().size, "Patient, Observation and the run's Provenance")
        assertEquals(1, store.search(resourceType = "Observation", patient = "Patient/p1").size)
        assertEquals(1, store.search(resourceType = "Observation", start = "2021", end = "2021-05").size)
        assertEquals(0, store.search(resourceType = "Observation", start = "2022").size)
        assertEquals(1, store.search(limit = 1u).size)
        val stats = store.stats()
        assertEquals(3uL, stats.resources)
        assertEquals(mapOf("Observation" to 1uL, "Patient" to 1uL, "Provenance" to 1uL), stats.byType)
        assertEquals(1uL, stats.runs)
        assertTrue(store.delete("Observation", "p1-o1"))
        assertFalse(store.delete("Observation", "p1-o1"))
        assertEquals(0uL, store.count("Observation"))
        assertEquals(2uL, store.count())
    }

    @Test
    fun `capability statement is a FHIR CapabilityStatement`() {
        val cs = newStore().capabilityStatement()
        assertTrue(cs.contains("\"resourceType\":\"CapabilityStatement\""))
        assertTrue(cs.contains("phr-export"))
    }

    @Test
    fun `export writes every format to a file`() {
        val store = tinyStore()
        val dir = tempDir()
        val bundle = store.exportToFile(File(dir, "r.json").path, ExportRequest(format = ExportFormat.BUNDLE))
        assertTrue(File(bundle.path).readText().contains("\"type\":\"document\""))
        assertTrue(bundle.suggestedFileName.startsWith("Jane-Doe-"), bundle.suggestedFileName)
        assertNull(bundle.generatedPassphrase)
        val phr = store.exportToFile(File(dir, "r.phr").path, ExportRequest(format = ExportFormat.PHR, types = listOf("Observation")))
        assertEquals(1uL, phr.byType["Observation"])
        assertEquals(phr.resources.toInt(), File(phr.path).readLines().size)
        val plain = store.exportToFile(File(dir, "plain.sphr").path, ExportRequest(format = ExportFormat.SPHR, encrypt = false))
        assertNull(plain.generatedPassphrase)
        val chosen = store.exportToFile(File(dir, "mine.sphr").path, ExportRequest(format = ExportFormat.SPHR, passphrase = "correct horse"))
        assertNull(chosen.generatedPassphrase)
        val other = newStore()
        assertTrue(other.importFile(chosen.path, passphrase = "correct horse").committed)
        assertEquals(store.recordCounts(), other.recordCounts())
        val dated = store.exportToFile(File(dir, "d.ndjson").path,
            ExportRequest(format = ExportFormat.NDJSON, start = "2022", patient = "p1"))
        assertNull(dated.byType["Observation"], "the 2021 observation is outside the range")
    }

    @Test
    fun `a cancelled or failed export leaves no file behind`() {
        val store = tinyStore()
        val target = File(tempDir(), "never.json")
        assertFailsWith<PhrException.InvalidInput> {
            store.exportToFile(target.path, ExportRequest(format = ExportFormat.BUNDLE, start = "2020-13"))
        }
        assertFailsWith<PhrException.Cancelled> {
            store.exportToFile(target.path, ExportRequest(format = ExportFormat.BUNDLE), RecordingListener(cancelAfter = 1))
        }
        assertFalse(target.exists())
        assertEquals(listOf(), target.parentFile.list()!!.toList())
    }
}
