// No panic crosses the FFI: bad input through every entry point ends in a PhrException (a
// Rust panic would surface as the generic InternalException, or crash the JVM).
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import kotlin.test.*
import org.junit.jupiter.api.Test

class NoPanicTest {
    private val failures = mutableListOf<String>()

    /** Runs [block], which must throw a PhrException; collects what did not. */
    private fun rejects(what: String, block: () -> Any?) {
        try {
            val value = block()
            failures += "$what: returned $value"
        } catch (e: PhrException) {
            if (e is PhrException.Internal) failures += "$what: Internal ${e.reason}"
        } catch (e: Throwable) {
            failures += "$what: ${e::class.qualifiedName}: ${e.message}"
        }
    }

    /** Runs [block], which may return or throw a PhrException, but nothing else. */
    private fun survives(what: String, block: () -> Any?) {
        try {
            block()
        } catch (e: PhrException) {
            if (e is PhrException.Internal) failures += "$what: Internal ${e.reason}"
        } catch (e: Throwable) {
            failures += "$what: ${e::class.qualifiedName}: ${e.message}"
        }
    }

    @Test
    fun `bad input through every entry point`() {
        val dir = tempDir()
        val store = tinyStore()
        val garbage = ByteArray(4096) { (it * 31 + 7).toByte() }
        val fakeZip = byteArrayOf(0x50, 0x4b, 0x03, 0x04) + garbage

        // open
        rejects("open empty path") { PhrStore.open("") }
        rejects("open a directory") { PhrStore.open(dir.path) }
        rejects("open with NUL") { PhrStore.open("a\u0000b.db") }
        rejects("open a non-database") { PhrStore.open(File(dir, "junk.db").apply { writeBytes(garbage) }.path) }
        rejects("open with an empty key") { PhrStore.open(File(dir, "k.db").path, byteArrayOf()) }
        rejects("open a plain store with a key") { PhrStore.open(File(dir, "plain.db").also { PhrStore.open(it.path).close() }.path, ByteArray(32)) }

        // import
        rejects("importFile missing") { store.importFile(File(dir, "missing.phr").path) }
        rejects("importFile directory") { store.importFile(dir.path) }
        rejects("importFile NUL") { store.importFile("x\u0000y") }
        rejects("importFile fake zip") { store.importFile(File(dir, "x.sphr").apply { writeBytes(fakeZip) }.path) }
        rejects("importBytes fake zip") { store.importBytes("x.sphr", fakeZip, passphrase = "p") }
        survives("importBytes garbage") { store.importBytes("g.bin", garbage) }
        survives("importBytes bad JSON") { store.importBytes("bad.json", "{\"resourceType\":".toByteArray()) }
        survives("importBytes empty") { store.importBytes("", ByteArray(0)) }
        survives("importBytes bundle of junk") {
            store.importBytes("b.json", """{"resourceType":"Bundle","type":"collection","entry":[1,"x",{"resource":7}]}""".toByteArray())
        }
        survives("importBytes invalid UTF-8") { store.importBytes("u.phr", byteArrayOf(0xff.toByte(), 0xfe.toByte(), 0x0a)) }

        // export
        val out = File(dir, "out.json").path
        val bundle = ExportRequest(format = ExportFormat.BUNDLE)
        rejects("export bad start") { store.exportToFile(out, bundle.copy(start = "2020-13-45")) }
        rejects("export bad end") { store.exportToFile(out, bundle.copy(end = "soon")) }
        rejects("export bad since") { store.exportToFile(out, bundle.copy(since = "")) }
        rejects("export start after end") { store.exportToFile(out, bundle.copy(start = "2024", end = "2020")) }
        rejects("export unknown type") { store.exportToFile(out, bundle.copy(types = listOf("Blood"))) }
        rejects("export bad patient") { store.exportToFile(out, bundle.copy(patient = "Patient/a b")) }
        rejects("export missing folder") { store.exportToFile(File(dir, "no/such/dir/x.json").path, bundle) }
        rejects("export onto a directory") { store.exportToFile(dir.path, bundle) }
        rejects("export empty path") { store.exportToFile("", bundle) }

        // queries
        rejects("search bad date") { store.search(start = "31/12/2020") }
        rejects("search unknown type") { store.search(resourceType = "NotAType") }
        rejects("search bad patient") { store.search(patient = "Patient/") }
        survives("get odd ids") { store.get("", "\u0000") }
        survives("count unknown type") { store.count("NotAType") }
        survives("delete unknown") { store.delete("NotAType", "x") }

        // sharing
        val full = ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full)
        rejects("share host not a URL") { store.share(full.copy(hostUrl = "not a url")) }
        rejects("share host ftp") { store.share(full.copy(hostUrl = "ftp://example.org")) }
        rejects("share plain http off loopback") { store.share(full.copy(hostUrl = "http://example.org")) }
        rejects("share label too long") { store.share(full.copy(label = "x".repeat(200))) }
        rejects("share direct file with passcode") { store.share(full.copy(directFile = true, passcode = "1")) }
        rejects("share custom bad date") { store.share(full.copy(profile = ShareProfile.Custom(listOf(), "2020-99", null))) }
        rejects("share custom unknown type") { store.share(full.copy(profile = ShareProfile.Custom(listOf("Blood"), null, null))) }
        rejects("share unknown patient") { store.share(full.copy(patient = "nobody")) }
        survives("share odd viewer") { store.share(full.copy(viewerUrl = "javascript:alert(1)")) }
        rejects("profile code unknown") { shareProfileFromCode("") }

        // QR
        rejects("qrPng too long") { qrPng("x".repeat(10_000), 4u) }
        rejects("qrPng zero px") { qrPng("shlink:/x", 0u) }
        rejects("qrPng huge px") { qrPng("shlink:/x", UInt.MAX_VALUE) }
        rejects("qrSvg too long") { qrSvg("x".repeat(10_000)) }

        // opening links
        for (link in listOf("", "garbage", "shlink:/", "shlink:/!!!!", "shlink:/e30", "shlink:/bm90IGpzb24",
            "https://viewer.example/#shlink:/xyz", "shlink:/" + "A".repeat(100_000))) {
            rejects("openLink '${link.take(40)}'") { openLink(link, "Tester") }
        }
        val good = store.share(full)
        rejects("openLink empty recipient") { openLink(good.uri, " ") }
        val forged = good.copy(linkId = "nope", managementToken = "nope")
        rejects("revoke forged") { revokeLink(forged) }
        rejects("accesses forged") { listAccesses(forged) }
        rejects("revoke garbage host") { revokeLink(forged.copy(hostUrl = "::::")) }
        rejects("accesses unreachable") { listAccesses(forged.copy(hostUrl = "http://127.0.0.1:9")) }

        // importing what arrived
        val received = openLink(good.uri, "Tester")
        rejects("importReceived garbage") {
            store.importReceived(received.copy(files = listOf(ReceivedFile("application/fhir+json", garbage))))
                .takeIf { it.totals.created > 0uL } ?: throw PhrException.InvalidInput("nothing imported, as expected")
        }
        rejects("importReceived unsupported type") {
            store.importReceived(received.copy(files = listOf(ReceivedFile("image/png", garbage))))
        }
        survives("importReceived nothing") { store.importReceived(received.copy(files = listOf())) }

        // The store is still fine after all that.
        assertTrue(store.count() >= 2uL)
        assertEquals(listOf(), failures, failures.joinToString("\n"))
    }
}
