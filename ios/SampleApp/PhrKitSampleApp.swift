// The thin SwiftUI sample: one screen doing the five things (import a file, list records by
// type, export .sphr through the share sheet, show a share-link QR, open a shlink: link).
import SwiftUI

@main
struct PhrKitSampleApp: App {
    @StateObject private var model = AppModel()

    var body: some Scene {
        WindowGroup {
            ContentView()
                .environmentObject(model)
                // shlink:/… (custom scheme) and viewer URLs (Universal Links) land here.
                .onOpenURL { url in model.openIncoming(url) }
        }
    }
}
