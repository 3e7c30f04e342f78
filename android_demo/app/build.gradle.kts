plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.edgeshare.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "dev.edgeshare.demo"
        minSdk = 24 // what the LiteRT 2.3 AARs declare
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    // Models are memory-mapped straight from the APK, which needs them stored uncompressed.
    androidResources {
        noCompress += "tflite"
    }
}

dependencies {
    // LiteRT 2.3 (the version edgeshare tests against in Python): the CompiledModel API; from 2.3 the GPU
    // accelerator is its own artifact (without it, Accelerator.GPU falls back to the CPU with only a Logcat line).
    implementation("com.google.ai.edge.litert:litert:2.3.0")
    implementation("com.google.ai.edge.litert:litert-gpu:2.3.0")
    implementation("androidx.appcompat:appcompat:1.7.0")
}
