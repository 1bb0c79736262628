// Shared helpers of the Kotlin SDK tests: temporary stores, fixtures, a link host on
// loopback, and listeners that record or cancel.
package dev.phrkit.tests

import dev.phrkit.*
import java.io.File
import java.nio.file.Files
import org.junit.jupiter.api.Assumptions

/** The test host runs on loopback: the SDK may reach local hosts (its development setting).
 * Set when this file's helpers are first used, before any share or open. */
private val localHostsAllowed: Unit = allowLocalHosts(true)

/** A fresh temporary folder, removed when the JVM exits. */
fun tempDir(prefix: String = "phrkit-kt"): File =
    Files.createTempDirectory(prefix).toFile().also { it.deleteOnExit() }

/** A new store in a fresh temporary folder. */
fun newStore(): PhrStore = PhrStore.open(File(tempDir(), "store.db").path)

/** The shared fixtures folder (`-Dphrkit.fixtures`, default `../shared/fixtures`). */
val fixtures: File = File(System.getProperty("phrkit.fixtures", "../shared/fixtures"))

/** A Synthea patient Bundle, or skips the test with a notice when fixtures are absent. */
fun syntheaFixture(): File {
    val f = File(fixtures, "synthea/Luigi_Wiegand_e27d88b0-c5e5-4042-ad49-184f6a900ee3.json")
    if (!f.isFile) println("notice: ${f.path} absent, skipping")
    Assumptions.assumeTrue(f.isFile, "fixture ${f.path} absent")
    return f
}

/** A tiny valid record: one Patient and one Observation, as NDJSON bytes. */
fun tinyRecord(patientId: String = "p1"): ByteArray = (
    """{"resourceType":"Patient","id":"$patientId","name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1980-02-03"}""" + "\n" +
    """{"resourceType":"Observation","id":"$patientId-o1","status":"final","code":{"text":"Weight"},"subject":{"reference":"Patient/$patientId"},"effectiveDateTime":"2021-05-06","valueQuantity":{"value":70,"unit":"kg"}}""" + "\n"
).toByteArray()

/** A store holding [tinyRecord]. */
fun tinyStore(): PhrStore = newStore().also { it.importBytes("tiny.phr", tinyRecord()) }

/**
 * The SMART Health Link host: one `phrkit-test-host` process per JVM (path from
 * `-Dphrkit.testHost`), on 127.0.0.1 with an ephemeral port, with one account whose [token]
 * creates links. It stops when its stdin closes.
 */
object TestHost {
    private val started: Pair<String, String> by lazy {
        allowLocalHosts(true)
        val exe = System.getProperty("phrkit.testHost", "target/debug/examples/phrkit-test-host")
        check(File(exe).canExecute()) { "test host $exe not built (cargo build -p phrkit-ffi --example phrkit-test-host)" }
        val process = ProcessBuilder(exe).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        Runtime.getRuntime().addShutdownHook(Thread {
            process.outputStream.close()
            process.waitFor()
        })
        val out = process.inputStream.bufferedReader()
        val url = out.readLine() ?: error("the test host printed no URL")
        val token = out.readLine() ?: error("the test host printed no account token")
        url to token
    }
    /** The host's base URL. */
    val url: String get() = started.first
    /** The token of the host's one account. */
    val token: String get() = started.second
}

/** Records every progress call; answers `true` until [cancelAfter] calls have been made. */
class RecordingListener(private val cancelAfter: Int = Int.MAX_VALUE) : ProgressListener {
    val calls = mutableListOf<Triple<ProgressPhase, ULong, ULong?>>()
    override fun onProgress(phase: ProgressPhase, done: ULong, total: ULong?): Boolean {
        synchronized(calls) { calls.add(Triple(phase, done, total)) }
        return calls.size < cancelAfter
    }
}

/** Counts per type without the bookkeeping each store writes for itself (Provenance of
 * import runs, AuditEvents of exports and shares). */
fun PhrStore.recordCounts(): Map<String, ULong> = stats().byType.filterKeys { it !in setOf("Provenance", "AuditEvent") }

/** The `"id"` values of JSON resources (first top-level id of each). */
fun idsOf(resources: List<String>): Set<String> =
    resources.mapNotNull { Regex("\"id\":\"([^\"]+)\"").find(it)?.groupValues?.get(1) }.toSet()
