// A ProgressListener for UI: reports a fraction and can be cancelled from another thread.
package dev.phrkit.sample.logic

import dev.phrkit.ProgressListener
import dev.phrkit.ProgressPhase

/**
 * Passes progress to [onFraction] (0.0–1.0, or null while the total is unknown) and cancels
 * the operation at its next checkpoint once [cancel] was called (from any thread, e.g. a
 * Cancel button). The SDK calls it on the operation's background thread: post to the main
 * thread inside [onFraction] before touching UI.
 */
class CancellableProgress(private val onFraction: (ProgressPhase, Double?) -> Unit = { _, _ -> }) : ProgressListener {
    @Volatile
    var cancelled = false
        private set

    /** Asks the running operation to stop; it rolls back and throws `PhrException.Cancelled`. */
    fun cancel() {
        cancelled = true
    }

    override fun onProgress(phase: ProgressPhase, done: ULong, total: ULong?): Boolean {
        val fraction = total?.takeIf { it > 0uL }?.let { (done.toDouble() / it.toDouble()).coerceIn(0.0, 1.0) }
        onFraction(phase, fraction)
        return !cancelled
    }
}
