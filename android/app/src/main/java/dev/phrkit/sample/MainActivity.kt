// The one screen of the sample, and the entry point for shlink: and viewer-URL intents.
package dev.phrkit.sample

import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.compose.setContent
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.*
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.unit.dp
import androidx.core.content.FileProvider
import java.io.File

class MainActivity : ComponentActivity() {
    private val model: SampleViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        model.openIncoming(intent?.dataString)
        setContent { MaterialTheme { Screen(model, ::sendFile) } }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        model.openIncoming(intent.dataString)
    }

    private fun sendFile(path: String) {
        val uri = FileProvider.getUriForFile(this, "dev.phrkit.sample.files", File(path))
        val send = Intent(Intent.ACTION_SEND).setType("application/zip")
            .putExtra(Intent.EXTRA_STREAM, uri).addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
        startActivity(Intent.createChooser(send, "Send record"))
    }
}

@Composable
private fun Screen(model: SampleViewModel, send: (String) -> Unit) {
    val pick = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocument()) { uri ->
        uri?.let { model.importDocument(it) }
    }
    var linkText by remember { mutableStateOf("") }
    LazyColumn(Modifier.fillMaxSize().padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        item { Text("My health record", style = MaterialTheme.typography.headlineSmall) }
        items(model.rows) { row ->
            Row(Modifier.fillMaxWidth()) { Text(row.type, Modifier.weight(1f)); Text("${row.count}") }
        }
        item {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { pick.launch(arrayOf("*/*")) }) { Text("Import") }
                Button(onClick = model::exportSphr) { Text("Export .sphr") }
                Button(onClick = model::shareLink) { Text("Share link") }
            }
        }
        model.progress?.let { p ->
            item {
                LinearProgressIndicator(progress = { p.toFloat() }, modifier = Modifier.fillMaxWidth())
                TextButton(onClick = { model.cancel() }) { Text("Cancel") }
            }
        }
        model.exported?.let { result ->
            item {
                Button(onClick = { send(result.path) }) { Text("Send ${result.suggestedFileName}") }
                result.generatedPassphrase?.let { Text("Passphrase: $it") }
            }
        }
        model.qrCode?.let { qr -> item { Image(qr.asImageBitmap(), "Share-link QR code", Modifier.size(280.dp)) } }
        item {
            OutlinedTextField(linkText, { linkText = it }, label = { Text("shlink:/…") }, modifier = Modifier.fillMaxWidth())
            Button(onClick = { model.openIncoming(linkText) }) { Text("Open link") }
        }
        if (model.status.isNotEmpty()) item { Text(model.status, style = MaterialTheme.typography.bodySmall) }
    }
}
