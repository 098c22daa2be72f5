//! Compiles the gRPC contracts in `proto/nl/v1` with protox (pure Rust, no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../../proto";
    let protos = ["nl/v1/common.proto", "nl/v1/ledger.proto", "nl/v1/gate.proto", "nl/v1/orchestrator.proto"];
    let fds = protox::compile(protos, [root])?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    for p in protos {
        println!("cargo:rerun-if-changed={root}/{p}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}
