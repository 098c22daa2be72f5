#[test]
fn bench_decode() {
    let logs = nl_collector::sources::dex::bench::generate_logs(300_000);
    let _ = nl_collector::sources::dex::bench::decode_throughput(&logs[..10_000]);
    let r = nl_collector::sources::dex::bench::decode_throughput(&logs);
    println!("BENCH {r:?}");
}
