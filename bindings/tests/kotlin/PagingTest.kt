// Paged search from Kotlin: a 10,000-record store read page by page while the app keeps
// writing between pages; every record that was there appears exactly once, newest first.
package dev.phrkit.tests

import dev.phrkit.*
import kotlin.test.*
import org.junit.jupiter.api.Test

class PagingTest {
    private fun observation(id: String, date: String) =
        """{"resourceType":"Observation","id":"$id","status":"final","code":{"text":"Weight"},""" +
            """"subject":{"reference":"Patient/p1"},"effectiveDateTime":"$date","valueQuantity":{"value":70,"unit":"kg"}}"""

    @Test
    fun `pages cover a 10k store exactly once with inserts between pages`() {
        val store = newStore()
        val lines = StringBuilder("""{"resourceType":"Patient","id":"p1"}""").append('\n')
        for (i in 0 until 10_000) {
            val day = 1 + i % 28
            val month = 1 + (i / 28) % 12
            lines.append(observation("o$i", "%04d-%02d-%02d".format(2000 + i % 20, month, day))).append('\n')
        }
        assertTrue(store.importBytes("many.ndjson", lines.toString().toByteArray()).committed)
        val seen = mutableListOf<String>()
        var token: String? = null
        var pages = 0
        do {
            val page = store.searchPage(resourceType = "Observation", pageSize = 500u, pageToken = token)
            seen += page.records.map { it.id }
            pages++
            // The app writes while the user scrolls: before, inside and after the record.
            store.create(observation("new$pages", listOf("1990-01-01", "2010-06-15", "2030-01-01")[pages % 3]))
            token = page.nextPageToken
        } while (token != null)
        val original = seen.filter { it.startsWith("o") }
        assertEquals(10_000, original.size, "every original record")
        assertEquals(original.size, original.toSet().size, "none twice")
        assertTrue(pages >= 20, "$pages pages")
        assertFailsWith<PhrException.InvalidInput> { store.searchPage(resourceType = "Condition", pageToken = token ?: "bogus") }
    }
}
