//! The uniffi bindgen at the workspace's uniffi version, so the generated
//! Kotlin and Swift always match the scaffolding compiled into the core.

fn main() {
    uniffi::uniffi_bindgen_main()
}
