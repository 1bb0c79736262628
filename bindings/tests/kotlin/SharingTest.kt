// SMART Health Links from Kotlin: profiles, flags, viewer URLs, QR renderings, accesses,
// and importing what a link delivered (including the .sphr a link can carry).
package dev.phrkit.tests

import dev.phrkit.*
import kotlin.test.*
import org.junit.jupiter.api.Test

class SharingTest {
    @Test
    fun `every profile shares and opens`() {
        val store = tinyStore()
        val profiles = listOf(ShareProfile.Emergency, ShareProfile.Pharmacy, ShareProfile.Travel,
            ShareProfile.Referral, ShareProfile.Full,
            ShareProfile.Custom(types = listOf("Observation"), start = "2020", end = null))
        for (profile in profiles) {
            val link = store.share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = profile))
            val received = openLink(link.uri, "Profile test")
            assertEquals(1, received.files.size, "$profile")
            assertEquals("application/fhir+json", received.files[0].contentType)
            assertTrue(received.files[0].bytes.decodeToString().contains("\"resourceType\":\"Bundle\""))
        }
    }

    @Test
    fun `cancelling a share throws Cancelled and logs nothing`() {
        val store = tinyStore()
        val before = store.accessLog(null).size
        val phases = mutableListOf<Pair<ProgressPhase, ULong>>()
        // Cancel once the link exists on the host: the core revokes it there.
        val cancelAtOnce = object : ProgressListener {
            override fun onProgress(phase: ProgressPhase, done: ULong, total: ULong?): Boolean {
                phases += phase to done
                return false
            }
        }
        assertFailsWith<PhrException.Cancelled> {
            store.share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full), cancelAtOnce)
        }
        assertEquals(listOf(ProgressPhase.SHARING to 0uL), phases)
        assertEquals(before, store.accessLog(null).size, "no share in the access log")
    }

    @Test
    fun `profile codes parse as the CLI's`() {
        assertEquals(ShareProfile.Travel, shareProfileFromCode("travel"))
        assertTrue(shareProfileFromCode("custom") is ShareProfile.Custom)
        assertFailsWith<PhrException.InvalidInput> { shareProfileFromCode("everything") }
    }

    @Test
    fun `flags, label, viewer URL and an attached sphr`() {
        val store = tinyStore()
        val link = store.share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full, longTerm = true,
            label = "For Dr. Who", viewerUrl = "https://viewer.example/", includeSphr = true))
        assertEquals("L", link.flag)
        assertEquals(2u, link.files)
        assertTrue(link.uri.startsWith("https://viewer.example/#shlink:/"), link.uri)
        val received = openLink(link.uri, "Viewer test")
        assertEquals("For Dr. Who", received.label)
        assertEquals(2, received.files.size)
        val other = newStore()
        val report = other.importReceived(received)
        assertTrue(report.committed, report.summary)
        assertEquals(listOf("p1"), other.patientIds())
        assertTrue(report.operationOutcome.contains("OperationOutcome"))
    }

    @Test
    fun `a direct-file link opens without a manifest`() {
        val link = tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Emergency, directFile = true))
        assertEquals("U", link.flag)
        assertEquals(1, openLink(link.uri, "Direct").files.size)
    }

    @Test
    fun `accesses list who opened the link`() {
        val link = tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Travel))
        assertEquals(listOf(), listAccesses(link))
        openLink(link.uri, "Border control")
        val accesses = listAccesses(link)
        assertEquals(listOf("Border control"), accesses.map { it.recipient })
        assertTrue(accesses[0].time.matches(Regex("""\d{4}-\d\d-\d\dT.*""")), accesses[0].time)
    }

    @Test
    fun `QR codes as PNG and SVG`() {
        val text = "shlink:/eyJ1cmwiOiJodHRwczovL2V4YW1wbGUub3JnIn0"
        val small = qrPng(text, 2u)
        val big = qrPng(text, 8u)
        assertTrue(big.size > small.size)
        assertEquals(0x89.toByte(), small[0])
        val svg = qrSvg(text)
        assertTrue(svg.contains("<svg"), svg.take(80))
    }

    @Test
    fun `importing a received link with a validate-only preview`() {
        val link = tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full))
        val received = openLink(link.uri, "Preview")
        val other = newStore()
        val preview = other.importReceived(received, ImportOptions(mode = ImportMode.VALIDATE))
        assertTrue(preview.validateOnly)
        assertEquals(0uL, other.count())
        val listener = RecordingListener()
        assertTrue(other.importReceived(received, listener = listener).committed)
        assertTrue(listener.calls.isNotEmpty())
    }
}
