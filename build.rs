// `sqlx::migrate!` embeds the migrations when the crate compiles: a migration added or
// changed must rebuild it, or the binary would serve the schema of its last build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
