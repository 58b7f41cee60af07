//! Link flags of the module and of its mock-host test.

fn main() {
    // Every callback into Envoy is bound when the library is loaded (`-z now`), not at its first
    // call: an Envoy that lacks one refuses the module at load time with the symbol's name
    // ("undefined symbol: envoy_dynamic_module_callback_..."), instead of aborting mid-request.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,now");
    // The mock host (tests/native_abi.rs) defines those callbacks; the library finds them only
    // if the test executable exports its symbols.
    println!("cargo:rustc-link-arg-tests=-rdynamic");
}
