fn main() {
    println!("cargo:rerun-if-changed=csrc/number.c");
    cc::Build::new()
        .file("csrc/number.c")
        .warnings(true)
        .compile("reddish_number");
}
