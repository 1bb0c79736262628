// Which incoming URIs are SMART Health Links: plain Kotlin, no Android imports, so the JVM
// tests (scripts/kotlin-tests.sh) compile and run it with the SDK.
package dev.phrkit.sample.logic

/**
 * The SMART Health Link in an incoming URI, ready for `openLink`, or null when there is none.
 *
 * Accepts a bare `shlink:/…` (QR scan, tapped link) and a viewer URL carrying one after `#`
 * (`https://viewer.example/#shlink:/…`, as links with a viewer prefix are printed); the viewer
 * URL is passed whole, because `openLink` reads it. Whitespace from copy-paste is trimmed.
 */
fun shlinkFrom(data: String?): String? {
    val text = data?.trim().orEmpty()
    if (text.isEmpty()) return null
    if (text.startsWith("shlink:/")) return text
    val hash = text.indexOf("#shlink:/")
    if (hash > 0 && (text.startsWith("https://") || text.startsWith("http://"))) return text
    return null
}
