//! `sqlx::migrate!` embeds `migrations/` at compile time; a new or edited migration file alone must rebuild
//! this crate, or a stale binary would run without it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
