// The patient journey through the Kotlin API: import a Synthea record, export it as an
// encrypted .sphr, share it through a real link host, open the link as a second app,
// import what arrived, and check both apps hold the same record.
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import kotlin.test.*
import org.junit.jupiter.api.Test

class JourneyTest {
    @Test
    fun `import, export sphr, share, open as a second app, import, compare`() {
        val fixture = syntheaFixture()
        val dir = tempDir()

        // 1. The first app imports the patient's record.
        val first = PhrStore.open(File(dir, "first.db").path)
        val imported = first.importFile(fixture.path)
        assertTrue(imported.committed, imported.summary)
        assertTrue(imported.totals.created > 50uL, imported.summary)
        assertEquals(1, first.patientIds().size)
        assertTrue(imported.operationOutcome.contains("\"resourceType\":\"OperationOutcome\""))

        // 2. It exports an encrypted .sphr under a passphrase phrkit generates.
        val sphr = File(dir, "record.sphr")
        val exported = first.exportToFile(sphr.path, ExportRequest(format = ExportFormat.SPHR))
        val passphrase = assertNotNull(exported.generatedPassphrase)
        assertEquals(sphr.length().toULong(), exported.bytes)
        assertTrue(exported.suggestedFileName.endsWith(".sphr"))
        assertEquals("application/zip", exported.mediaType)
        assertEquals(first.patientIds().single(), exported.patient)

        // 3. It shares the whole record behind a passcode through a host on loopback.
        val link = first.share(ShareOptions(
            hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full, passcode = "4711",
            label = "Journey test", expiresAt = System.currentTimeMillis() / 1000 + 3600))
        assertTrue(link.uri.startsWith(TestHost.url + "/view#shlink:/"), "the host's viewer holds the link: ${link.uri.take(40)}")
        assertEquals("P", link.flag)
        assertEquals("Journey test", link.label)
        val png = qrPng(link.uri, 4u)
        assertContentEquals(byteArrayOf(0x89.toByte(), 'P'.code.toByte(), 'N'.code.toByte(), 'G'.code.toByte()), png.copyOf(4))

        // 4. A second app opens the link and imports what arrived.
        val received = openLink(link.uri, "Second app", "4711")
        assertEquals("Journey test", received.label)
        assertTrue(received.files.isNotEmpty())
        val second = PhrStore.open(File(dir, "second.db").path)
        val fromLink = second.importReceived(received)
        assertTrue(fromLink.committed, fromLink.summary)

        // 5. Both hold the same record: same patient, same resources of every type...
        assertEquals(first.patientIds(), second.patientIds())
        assertEquals(first.recordCounts(), second.recordCounts())
        for (type in first.recordCounts().keys) {
            assertEquals(idsOf(first.search(resourceType = type)), idsOf(second.search(resourceType = type)), type)
        }
        // ...with the same content: the .sphr of the first app changes nothing in the second.
        val again = second.importFile(sphr.path, passphrase = passphrase)
        assertEquals(0uL, again.totals.created, again.summary)
        assertEquals(0uL, again.totals.updated, again.summary)
        assertFalse(again.committed, again.summary)

        // 6. The sharer sees who opened the link, revokes it, and the link is gone.
        assertTrue(listAccesses(link).any { it.recipient == "Second app" })
        revokeLink(link)
        assertFailsWith<PhrException.LinkGone> { openLink(link.uri, "Second app", "4711") }

        first.closeStore()
        second.closeStore()
    }
}
