// The sample's state and actions. Every SDK call runs on Dispatchers.IO (they block);
// state is Compose state read on the main thread.
package dev.phrkit.sample

import android.app.Application
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.net.Uri
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import dev.phrkit.*
import dev.phrkit.sample.logic.CancellableProgress
import dev.phrkit.sample.logic.TypeRow
import dev.phrkit.sample.logic.shlinkFrom
import dev.phrkit.sample.logic.typeRows
import java.io.File
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

class SampleViewModel(app: Application) : AndroidViewModel(app) {
    companion object {
        /** The link host the sample shares through (your deployment of `phrkit serve`). */
        const val HOST_URL = "https://shl.example.org"
        /** This app's account token on that host (a line of its `accounts` file); ship it the
         * way you ship other API keys, never in logs. */
        const val HOST_ACCOUNT_TOKEN = "<your account token>"
    }

    var rows by mutableStateOf(listOf<TypeRow>())
        private set
    var status by mutableStateOf("")
        private set
    var progress by mutableStateOf<Double?>(null)
        private set
    var qrCode by mutableStateOf<Bitmap?>(null)
        private set
    var exported by mutableStateOf<ExportResult?>(null)
        private set
    private var store: PhrStore? = null
    private var running: CancellableProgress? = null

    init {
        work("Opening the record") {
            val path = File(app.filesDir, "record.db").path
            store = PhrStore.open(path, KeystoreKey.storeKey(app))
        }
    }

    /** Runs [block] on the IO dispatcher; a failure becomes the status line. */
    private fun work(what: String, block: suspend () -> Unit) {
        viewModelScope.launch {
            try {
                withContext(Dispatchers.IO) { block() }
            } catch (e: PhrException) {
                status = "$what failed: $e" // toString() is the core's sentence
            } catch (e: java.io.IOException) {
                status = "$what failed: ${e.message}"
            }
            runCatching { refresh() }
        }
    }

    private suspend fun refresh() {
        val s = store ?: return
        val stats = withContext(Dispatchers.IO) { s.stats() }
        rows = typeRows(stats)
    }

    /** Imports a document the user picked (copied to the cache first: the SDK takes paths). */
    fun importDocument(uri: Uri) = work("Import") {
        val s = store ?: return@work
        val app = getApplication<Application>()
        val copy = File(app.cacheDir, "import.tmp")
        app.contentResolver.openInputStream(uri)?.use { input -> copy.outputStream().use { input.copyTo(it) } }
        val listener = CancellableProgress { _, f -> viewModelScope.launch { progress = f } }
        running = listener
        try {
            status = s.importFile(copy.path, listener = listener).summary
        } finally {
            running = null
            progress = null
            copy.delete()
        }
    }

    /** Cancels the running import; the store stays as it was. */
    fun cancel() {
        running?.cancel()
    }

    /** Exports an encrypted .sphr into cache/exports/ for the share sheet. */
    fun exportSphr() = work("Export") {
        val s = store ?: return@work
        val dir = File(getApplication<Application>().cacheDir, "exports").apply { mkdirs() }
        val tmp = File(dir, "export.tmp")
        val result = s.exportToFile(tmp.path, ExportRequest(format = ExportFormat.SPHR))
        val named = File(dir, result.suggestedFileName)
        tmp.renameTo(named)
        exported = result.copy(path = named.path)
    }

    /** Shares the emergency summary for a week and shows the QR code. */
    fun shareLink() = work("Sharing") {
        val s = store ?: return@work
        val week = System.currentTimeMillis() / 1000 + 7 * 24 * 3600
        val link = s.share(ShareOptions(hostUrl = HOST_URL, accountToken = HOST_ACCOUNT_TOKEN, profile = ShareProfile.Emergency, expiresAt = week))
        val png = qrPng(link.uri, 8u)
        qrCode = BitmapFactory.decodeByteArray(png, 0, png.size)
        status = "Link ready: ${link.label}"
    }

    /** Opens a tapped, scanned or typed link and imports what it carries. */
    fun openIncoming(data: String?, passcode: String? = null) {
        val link = shlinkFrom(data) ?: return
        work("Opening the link") {
            val s = store ?: return@work
            val received = openLink(link, "PhrKit sample", passcode)
            status = "${received.label ?: "Link"}: ${s.importReceived(received).summary}"
        }
    }

    override fun onCleared() {
        store?.closeStore()
    }
}
