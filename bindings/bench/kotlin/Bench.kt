// Benchmark (not a test): import and .sphr export of one file through the Kotlin SDK, with the
// JVM's resident memory sampled every 20 ms. Run by scripts/bench-kotlin.sh, which times the
// phrkit CLI on the same file and prints both.
// Usage: Bench <input.ndjson> <work dir> <passphrase>
package dev.phrkit.bench

import dev.phrkit.*
import java.io.File
import java.util.concurrent.atomic.AtomicLong

/** Resident set size of this process, KiB (Linux /proc). */
fun rssKib(): Long =
    File("/proc/self/status").readLines().first { it.startsWith("VmRSS:") }
        .split(Regex("\\s+"))[1].toLong()

/** Samples RSS until stopped; `peak` is the highest value seen. */
class RssSampler : Thread("rss-sampler") {
    val peak = AtomicLong(rssKib())
    @Volatile var running = true
    override fun run() {
        while (running) {
            peak.accumulateAndGet(rssKib(), ::maxOf)
            sleep(20)
        }
    }
}

fun <T> timed(block: () -> T): Pair<T, Double> {
    val start = System.nanoTime()
    val value = block()
    return value to (System.nanoTime() - start) / 1e9
}

fun main(args: Array<String>) {
    val (input, work, passphrase) = args
    val dir = File(work).apply { mkdirs() }
    File(dir, "kotlin.db").delete()
    val store = PhrStore.open(File(dir, "kotlin.db").path)
    store.stats() // library loaded, store open: the baseline
    System.gc()
    val baseline = rssKib()
    val sampler = RssSampler().apply { isDaemon = true; start() }
    val (report, importSecs) = timed { store.importFile(input) }
    val afterImport = sampler.peak.get()
    val (result, exportSecs) = timed {
        store.exportToFile(File(dir, "kotlin.sphr").path, ExportRequest(format = ExportFormat.SPHR, passphrase = passphrase))
    }
    sampler.running = false
    sampler.join()
    store.closeStore()
    println("kotlin import: %.2f s (%s)".format(importSecs, report.summary))
    println("kotlin export sphr: %.2f s (%d resources, %d bytes)".format(exportSecs, result.resources.toLong(), result.bytes.toLong()))
    println("kotlin rss: baseline %d MiB, peak during import %d MiB (+%d), peak overall %d MiB (+%d)".format(
        baseline / 1024, afterImport / 1024, (afterImport - baseline) / 1024,
        sampler.peak.get() / 1024, (sampler.peak.get() - baseline) / 1024))
}
