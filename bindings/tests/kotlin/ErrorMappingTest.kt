// Each PhrException case an app branches on, reached from Kotlin, with the core's message.
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import kotlin.test.*
import org.junit.jupiter.api.Test

class ErrorMappingTest {
    private fun encryptedSphr(passphrase: String): File {
        val file = File(tempDir(), "r.sphr")
        tinyStore().exportToFile(file.path, ExportRequest(format = ExportFormat.SPHR, passphrase = passphrase))
        return file
    }

    @Test
    fun `wrong passphrase and passphrase required`() {
        val file = encryptedSphr("right one, mauve lantern")
        val store = newStore()
        val wrong = assertFailsWith<PhrException.WrongPassphrase> { store.importFile(file.path, passphrase = "wrong one") }
        assertEquals("wrong passphrase for this .sphr archive", wrong.reason)
        assertEquals("reason=wrong passphrase for this .sphr archive", wrong.message)
        assertEquals("wrong passphrase for this .sphr archive", wrong.toString())
        assertFailsWith<PhrException.PassphraseRequired> { store.importFile(file.path) }
        assertFailsWith<PhrException.PassphraseRequired> { store.importBytes("r.sphr", file.readBytes()) }
        assertEquals(0uL, store.count(), "nothing written")
    }

    @Test
    fun `passcode required, then wrong with remaining attempts, then gone`() {
        val link = tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Emergency, passcode = "right"))
        val required = assertFailsWith<PhrException.PasscodeRequired> { openLink(link.uri, "Someone") }
        assertTrue(required.reason.contains("passcode"), required.reason)
        val first = assertFailsWith<PhrException.PasscodeWrong> { openLink(link.uri, "Someone", "wrong") }
        val left = assertNotNull(first.remainingAttempts, "the host says how many attempts are left")
        val second = assertFailsWith<PhrException.PasscodeWrong> { openLink(link.uri, "Someone", "wrong") }
        assertEquals(left - 1u, second.remainingAttempts)
        assertTrue(second.reason.contains("attempts left"), second.reason)
        assertEquals(1, openLink(link.uri, "Someone", "right").files.size)
        revokeLink(link)
        assertFailsWith<PhrException.LinkGone> { openLink(link.uri, "Someone", "right") }
    }

    @Test
    fun `an expired link fails before any request`() {
        val link = tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full,
            expiresAt = System.currentTimeMillis() / 1000 + 2))
        Thread.sleep(3000)
        assertFailsWith<PhrException.LinkExpired> { openLink(link.uri, "Late") }
    }

    @Test
    fun `network, invalid input, not found, storage`() {
        val store = tinyStore()
        assertFailsWith<PhrException.Network> {
            store.share(ShareOptions(hostUrl = "http://127.0.0.1:9", profile = ShareProfile.Full))
        }
        val bad = assertFailsWith<PhrException.InvalidInput> { store.search(start = "yesterday") }
        assertTrue(bad.reason.contains("start"), "names the parameter: ${bad.reason}")
        assertFailsWith<PhrException.NotFound> {
            store.exportToFile(File(tempDir(), "x.json").path, ExportRequest(format = ExportFormat.BUNDLE, patient = "nobody"))
        }
        assertFailsWith<PhrException.NotFound> {
            newStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full))
        }
        assertFailsWith<PhrException.Storage> { store.importFile("/no/such/file.phr") }
        assertFailsWith<PhrException.Storage> { PhrStore.open("/proc/no-such-dir/x.db") }
    }

    @Test
    fun `an encrypted store needs its key`() {
        val path = File(tempDir(), "secret.db").path
        val key = ByteArray(32) { it.toByte() }
        PhrStore.open(path, key).use { it.importBytes("tiny.phr", tinyRecord()) }
        assertFalse(File(path).readBytes().decodeToString().contains("Doe"), "nothing readable on disk")
        assertFailsWith<PhrException.KeyRequired> { PhrStore.open(path) }
        assertFailsWith<PhrException.WrongKey> { PhrStore.open(path, ByteArray(32)) }
        assertFailsWith<PhrException.InvalidInput> { PhrStore.open(path, ByteArray(16)) }
        PhrStore.open(path, key).use { assertEquals(listOf("p1"), it.patientIds()) }
    }

    @Test
    fun `cancelled and closed`() {
        val store = tinyStore()
        assertFailsWith<PhrException.Cancelled> {
            store.importBytes("more.phr", tinyRecord("p2"), listener = RecordingListener(cancelAfter = 1))
        }
        store.closeStore()
        val closed = assertFailsWith<PhrException.Closed> { store.stats() }
        assertTrue(closed.reason.contains("closed"))
    }

    @Test
    fun `a listener that throws cancels and its failure comes back as Internal`() {
        val store = tinyStore()
        val thrower = object : ProgressListener {
            override fun onProgress(phase: ProgressPhase, done: ULong, total: ULong?): Boolean =
                throw IllegalStateException("listener bug")
        }
        val e = assertFailsWith<PhrException.Internal> { store.importBytes("more.phr", tinyRecord("p2"), listener = thrower) }
        assertTrue(e.reason.contains("listener bug"), e.reason)
        assertEquals(listOf("p1"), store.patientIds(), "rolled back")
    }
}
