// What a shared link's holder must not leak, and what the host and the SDK refuse: printed
// links and options hide their secrets, the host refuses an app without a valid account, and
// the SDK reaches a host on this machine only in its development setting.
package dev.phrkit.tests

import dev.phrkit.*
import kotlin.test.*
import org.junit.jupiter.api.Test

class LinkSecretsTest {
    @Test
    fun `toString of a link and of share options shows no secret`() {
        val options = ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token,
            profile = ShareProfile.Emergency, passcode = "secret-passcode-4711", label = "ER")
        val link = tinyStore().share(options)
        val printed = listOf(link.toString(), "$options", listOf(link).toString())
        val secrets = listOf(link.uri, link.uri.substringAfter("shlink:/"), link.linkId,
            link.managementToken, TestHost.token, "secret-passcode-4711")
        for (text in printed) {
            for (secret in secrets) assertFalse(text.contains(secret), "leaks a secret: $text")
        }
        assertTrue(printed[0].contains("ER") && printed[0].contains("<redacted>"), printed[0])
        assertEquals(link, link.copy(), "still a value type")
    }

    @Test
    fun `creating a link needs the host's account token`() {
        for (token in listOf(null, "not-the-token-but-long-enough-to-be-one-0000")) {
            val refused = assertFailsWith<PhrException.HostRefused> {
                tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = token, profile = ShareProfile.Full))
            }
            assertTrue(refused.reason.contains("account token"), refused.reason)
        }
    }

    @Test
    fun `a link on this machine opens only in the development setting`() {
        val link = tinyStore().share(ShareOptions(hostUrl = TestHost.url, accountToken = TestHost.token, profile = ShareProfile.Full))
        allowLocalHosts(false)
        try {
            val refused = assertFailsWith<PhrException.InvalidInput> { openLink(link.uri, "Outsider") }
            assertTrue(refused.reason.contains("private network"), refused.reason)
        } finally {
            allowLocalHosts(true)
        }
        assertEquals(1, openLink(link.uri, "Developer").files.size)
    }
}
