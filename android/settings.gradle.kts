// The Android side of phrkit: `:phrkit` (the SDK: generated Kotlin + the Rust library for
// each ABI) and `:app` (the thin Jetpack Compose sample). Open this folder in Android Studio.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "phrkit-android"
include(":phrkit", ":app")
