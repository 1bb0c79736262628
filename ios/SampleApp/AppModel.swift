// The sample's state and actions. Every SDK call runs off the main thread (`offMain`);
// results come back to the main actor for the UI.
import Foundation
import PhrKit
import SwiftUI

/// One row of the records list.
struct TypeRow: Identifiable, Hashable {
    let type: String
    let count: UInt64
    var id: String { type }
}

@MainActor
final class AppModel: ObservableObject {
    /// The link host the sample shares through (your deployment of `phrkit serve`).
    static let hostURL = "https://shl.example.org"
    /// This app's account token on that host (a line of its `accounts` file); ship it the way
    /// you ship other API keys, never in logs.
    static let hostAccountToken = "<your account token>"
    private static let bookkeeping: Set<String> = ["Provenance", "AuditEvent"]

    @Published var rows: [TypeRow] = []
    @Published var status = ""
    @Published var exportedFile: URL?
    @Published var exportPassphrase: String?
    @Published var qrCode: UIImage?
    @Published var progress: Double?
    private var store: PhrStore?

    init() {
        Task { await openStore() }
    }

    private func run<T>(_ what: String, _ work: @escaping @Sendable () throws -> T) async -> T? {
        do {
            return try await offMain(work)
        } catch let error as PhrError {
            status = "\(what) failed: \(error.description)"
        } catch {
            status = "\(what) failed: \(error.localizedDescription)"
        }
        return nil
    }

    func openStore() async {
        let url = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let path = url.appendingPathComponent("record.db").path
        store = await run("Opening the record") { try PhrStore.open(path: path, encryptionKey: KeychainKey.storeKey()) }
        await refresh()
    }

    func refresh() async {
        guard let store else { return }
        if let stats = await run("Reading the record", { try store.stats() }) {
            rows = stats.byType.filter { !Self.bookkeeping.contains($0.key) }
                .map { TypeRow(type: $0.key, count: $0.value) }
                .sorted { ($0.count, $1.type) > ($1.count, $0.type) }
        }
    }

    /// Imports a file the user picked (security-scoped URL from the file importer).
    func importFile(_ url: URL, passphrase: String? = nil) async {
        guard let store else { return }
        let scoped = url.startAccessingSecurityScopedResource()
        defer { if scoped { url.stopAccessingSecurityScopedResource() } }
        let listener = CancellableProgress { _, fraction in
            Task { @MainActor in self.progress = fraction }
        }
        if let report = await run("Import", { try store.importFile(path: url.path, passphrase: passphrase, listener: listener) }) {
            status = report.summary
        }
        progress = nil
        await refresh()
    }

    /// Exports the record as an encrypted .sphr into the temporary folder, for the share sheet.
    func exportSphr() async {
        guard let store else { return }
        let dir = FileManager.default.temporaryDirectory
        let tmp = dir.appendingPathComponent(UUID().uuidString + ".sphr").path
        guard let result = await run("Export", { try store.exportToFile(path: tmp, request: ExportRequest(format: .sphr)) }) else { return }
        let named = dir.appendingPathComponent(result.suggestedFileName)
        try? FileManager.default.removeItem(at: named)
        try? FileManager.default.moveItem(atPath: tmp, toPath: named.path)
        exportedFile = named
        exportPassphrase = result.generatedPassphrase
    }

    /// Shares the emergency summary as a SMART Health Link and shows its QR code.
    func shareLink() async {
        guard let store else { return }
        let options = ShareOptions(hostUrl: Self.hostURL, accountToken: Self.hostAccountToken, profile: .emergency,
                                   expiresAt: Int64(Date().timeIntervalSince1970) + 7 * 24 * 3600)
        guard let link = await run("Sharing", { try store.share(options: options) }),
              let png = await run("QR code", { try qrPng(text: link.uri, modulePx: 8) }) else { return }
        qrCode = UIImage(data: png)
        status = "Link ready: \(link.label)"
    }

    /// Opens a tapped or scanned link and imports what it carries.
    func openIncoming(_ url: URL, passcode: String? = nil) {
        guard let link = shlinkFrom(url), let store else { return }
        Task {
            guard let received = await run("Opening the link", { try openLink(link: link, recipient: "PhrKit sample", passcode: passcode) }),
                  let report = await run("Import", { try store.importReceived(received: received) }) else { return }
            status = "\(received.label ?? "Link"): \(report.summary)"
            await refresh()
        }
    }
}
