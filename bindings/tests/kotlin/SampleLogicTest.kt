// The sample apps' plain-Kotlin logic (android/app/src/main/java/dev/phrkit/sample/logic),
// run on the JVM with the real SDK.
package dev.phrkit.tests

import dev.phrkit.*
import dev.phrkit.sample.logic.*
import kotlin.test.*
import org.junit.jupiter.api.Test

class SampleLogicTest {
    @Test
    fun `incoming URIs that are links`() {
        assertEquals("shlink:/abc", shlinkFrom("  shlink:/abc\n"))
        assertEquals("https://viewer.example/#shlink:/abc", shlinkFrom("https://viewer.example/#shlink:/abc"))
        assertNull(shlinkFrom("https://example.org/page#section"))
        assertNull(shlinkFrom("mailto:someone@example.org"))
        assertNull(shlinkFrom(null))
        assertNull(shlinkFrom(""))
    }

    @Test
    fun `a link the sample app accepts opens with the SDK`() {
        val link = tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full,
            viewerUrl = "https://viewer.example/"))
        val accepted = assertNotNull(shlinkFrom(link.uri))
        assertEquals(1, openLink(accepted, "Sample app").files.size)
    }

    @Test
    fun `records by type, most frequent first, without Provenance`() {
        val store = tinyStore()
        store.importBytes("more.phr", tinyRecord("p2").decodeToString().replace("Patient\",\"id\":\"p2\"", "Patient\",\"id\":\"p2\"").toByteArray())
        val rows = typeRows(store.stats())
        assertEquals(listOf(TypeRow("Observation", 2), TypeRow("Patient", 2)), rows)
    }

    @Test
    fun `cancel from another thread stops an import and reports fractions`() {
        val fixture = syntheaFixture()
        val store = newStore()
        val fractions = mutableListOf<Double?>()
        val progress = CancellableProgress { _, f -> fractions += f }
        progress.cancel()
        assertFailsWith<PhrException.Cancelled> { store.importFile(fixture.path, listener = progress) }
        assertEquals(0uL, store.count())
        val ok = CancellableProgress { _, f -> fractions += f }
        store.importFile(fixture.path, listener = ok)
        assertEquals(1.0, fractions.last())
        assertTrue(fractions.filterNotNull().all { it in 0.0..1.0 })
    }
}
