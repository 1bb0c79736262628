// The patient journey through the Swift API, mirroring bindings/tests/kotlin/JourneyTest.kt.
// Needs a link host: set PHRKIT_TEST_HOST_URL and PHRKIT_TEST_HOST_TOKEN (see ios/README.md); PHRKIT_FIXTURES points at
// the shared fixtures folder. Tests skip with a message when either is absent.
import Foundation
import XCTest
@testable import PhrKit

final class JourneyTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func hostURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["PHRKIT_TEST_HOST_URL"] else {
            throw XCTSkip("PHRKIT_TEST_HOST_URL not set: start the test host (ios/README.md)")
        }
        allowLocalHosts(allow: true)  // the test host runs on loopback
        return url
    }

    private var hostToken: String? { ProcessInfo.processInfo.environment["PHRKIT_TEST_HOST_TOKEN"] }

    private func synthea() throws -> URL {
        let root = ProcessInfo.processInfo.environment["PHRKIT_FIXTURES"] ?? "../../shared/fixtures"
        let file = URL(fileURLWithPath: root)
            .appendingPathComponent("synthea/Luigi_Wiegand_e27d88b0-c5e5-4042-ad49-184f6a900ee3.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw XCTSkip("fixture \(file.path) absent")
        }
        return file
    }

    private let tiny = Data("""
        {"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["Jane"]}]}
        {"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Weight"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2021-05-06"}

        """.utf8)

    func testImportExportShareOpenImportCompare() throws {
        let host = try hostURL()
        let fixture = try synthea()
        let first = try PhrStore.open(path: dir.appendingPathComponent("first.db").path)
        let imported = try first.importFile(path: fixture.path)
        XCTAssertTrue(imported.committed, imported.summary)
        XCTAssertEqual(try first.patientIds().count, 1)

        let sphr = dir.appendingPathComponent("record.sphr")
        let exported = try first.exportToFile(path: sphr.path, request: ExportRequest(format: .sphr))
        let passphrase = try XCTUnwrap(exported.generatedPassphrase)
        XCTAssertTrue(exported.suggestedFileName.hasSuffix(".sphr"))

        let link = try first.share(options: ShareOptions(hostUrl: host, accountToken: hostToken, profile: .full, passcode: "4711", label: "Journey test"))
        XCTAssertTrue(link.uri.contains("#shlink:/"))
        XCTAssertEqual(link.flag, "P")
        XCTAssertEqual(try qrPng(text: link.uri, modulePx: 4).prefix(4), Data([0x89, 0x50, 0x4E, 0x47]))

        let received = try openLink(link: link.uri, recipient: "Second app", passcode: "4711")
        XCTAssertEqual(received.label, "Journey test")
        let second = try PhrStore.open(path: dir.appendingPathComponent("second.db").path)
        XCTAssertTrue(try second.importReceived(received: received).committed)

        let bookkeeping: Set<String> = ["Provenance", "AuditEvent"]
        XCTAssertEqual(try first.patientIds(), try second.patientIds())
        XCTAssertEqual(try first.stats().byType.filter { !bookkeeping.contains($0.key) },
                       try second.stats().byType.filter { !bookkeeping.contains($0.key) })
        let again = try second.importFile(path: sphr.path, passphrase: passphrase)
        XCTAssertEqual(again.totals.created, 0, again.summary)
        XCTAssertEqual(again.totals.updated, 0, again.summary)

        XCTAssertTrue(try listAccesses(link: link).contains { $0.recipient == "Second app" })
        try revokeLink(link: link)
        XCTAssertThrowsError(try openLink(link: link.uri, recipient: "Second app", passcode: "4711")) { error in
            guard case PhrError.LinkGone = error else { return XCTFail("expected LinkGone, got \(error)") }
        }
        first.close()
        second.close()
    }

    func testErrorsAreCasesToBranchOn() throws {
        let store = try PhrStore.open(path: dir.appendingPathComponent("e.db").path)
        _ = try store.importBytes(name: "tiny.phr", bytes: tiny)
        let sphr = dir.appendingPathComponent("r.sphr").path
        _ = try store.exportToFile(path: sphr, request: ExportRequest(format: .sphr, passphrase: "right"))
        XCTAssertThrowsError(try store.importFile(path: sphr, passphrase: "wrong")) { error in
            guard case PhrError.WrongPassphrase(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "wrong passphrase for this .sphr archive")
            XCTAssertEqual((error as? PhrError)?.description, reason, "description is the core's sentence")
        }
        XCTAssertThrowsError(try store.search(start: "yesterday")) { error in
            guard case PhrError.InvalidInput = error else { return XCTFail("\(error)") }
        }
        let cancel = CancellableProgress()
        cancel.cancel()
        XCTAssertThrowsError(try store.importBytes(name: "t.phr", bytes: tiny, options: ImportOptions(strategy: .append), listener: cancel)) { error in
            guard case PhrError.Cancelled = error else { return XCTFail("\(error)") }
        }
        store.close()
        XCTAssertThrowsError(try store.stats()) { error in
            guard case PhrError.Closed = error else { return XCTFail("\(error)") }
        }
    }

    func testPasscodeWrongCarriesRemainingAttempts() throws {
        let host = try hostURL()
        let store = try PhrStore.open(path: dir.appendingPathComponent("p.db").path)
        _ = try store.importBytes(name: "tiny.phr", bytes: tiny)
        let link = try store.share(options: ShareOptions(hostUrl: host, accountToken: hostToken, profile: .emergency, passcode: "right"))
        XCTAssertThrowsError(try openLink(link: link.uri, recipient: "Someone")) { error in
            guard case PhrError.PasscodeRequired = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try openLink(link: link.uri, recipient: "Someone", passcode: "wrong")) { error in
            guard case PhrError.PasscodeWrong(_, let remaining) = error else { return XCTFail("\(error)") }
            XCTAssertNotNil(remaining)
        }
    }

    func testEncryptedStoreNeedsItsKey() throws {
        let path = dir.appendingPathComponent("secret.db").path
        let key = Data((0..<32).map { UInt8($0) })
        let store = try PhrStore.open(path: path, encryptionKey: key)
        _ = try store.importBytes(name: "tiny.phr", bytes: tiny)
        store.close()
        XCTAssertThrowsError(try PhrStore.open(path: path)) { error in
            guard case PhrError.KeyRequired = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try PhrStore.open(path: path, encryptionKey: key).patientIds(), ["p1"])
    }
}
