// The Android library module that wraps pocketbook-core. Its Kotlin sources
// (src/main/kotlin) and native libraries (src/main/jniLibs/<abi>) are made by
// bindings/android/build-android; only this file and the ProGuard rules are
// checked in. The app's settings.gradle.kts includes this folder as a project
// and declares the versions of the Android and Kotlin plugins.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "uk.police.pocketbook.core"
    compileSdk = 35

    defaultConfig {
        // Must match ANDROID_MIN_SDK used by build-android (default 24).
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets {
        getByName("main") {
            // The generated bindings, and the hand-written Flow layer over them.
            java.srcDirs("src/main/kotlin", "../../kotlin/src/main/kotlin")
            jniLibs.srcDirs("src/main/jniLibs")
        }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // The generated Kotlin calls the core through JNA; the @aar brings JNA's
    // own native dispatch library for every Android ABI.
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    // Async exports (enrolDevice, Notebook.sync) are suspend functions.
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.1")
}
