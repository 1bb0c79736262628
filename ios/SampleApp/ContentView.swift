// The one screen of the sample.
import PhrKit
import SwiftUI
import UniformTypeIdentifiers

struct ContentView: View {
    @EnvironmentObject private var model: AppModel
    @State private var importing = false
    @State private var linkText = ""

    var body: some View {
        NavigationStack {
            List {
                Section("Records") {
                    ForEach(model.rows) { row in
                        LabeledContent(row.type, value: "\(row.count)")
                    }
                }
                Section("Share") {
                    Button("Import a file…") { importing = true }
                    Button("Export .sphr") { Task { await model.exportSphr() } }
                    if let file = model.exportedFile {
                        ShareLink(item: file) { Label("Send \(file.lastPathComponent)", systemImage: "square.and.arrow.up") }
                        if let passphrase = model.exportPassphrase {
                            Text("Passphrase: \(passphrase)").font(.footnote.monospaced()).textSelection(.enabled)
                        }
                    }
                    Button("Share emergency summary link") { Task { await model.shareLink() } }
                    if let qr = model.qrCode {
                        Image(uiImage: qr).interpolation(.none).resizable().scaledToFit().frame(maxWidth: 280)
                    }
                }
                Section("Open a link") {
                    TextField("shlink:/…", text: $linkText).textInputAutocapitalization(.never)
                    Button("Open") { if let url = URL(string: linkText) { model.openIncoming(url) } }
                }
                if let progress = model.progress {
                    ProgressView(value: progress)
                }
                if !model.status.isEmpty {
                    Text(model.status).font(.footnote)
                }
            }
            .navigationTitle("My health record")
            .fileImporter(isPresented: $importing,
                          allowedContentTypes: [.json, .data, .zip, UTType(filenameExtension: "phr") ?? .data]) { result in
                if case .success(let url) = result { Task { await model.importFile(url) } }
            }
        }
    }
}
