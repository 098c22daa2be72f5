//! Prints the raw and ledger insert rates (what `nl bench ledger` will report).
#[tokio::main]
async fn main() -> Result<(), nl_ledger::LedgerError> {
    let n = 50_000;
    let raw = nl_ledger::bench_raw_insert(n).await?;
    let one = nl_ledger::bench_ledger_apply(n, 1000, 1).await?;
    let grouped = nl_ledger::bench_ledger_apply(n, 100, 16).await?;
    println!("raw push_values: {raw:.0} rows/s; ledger apply(1000)x1: {one:.0}/s; ledger apply(100)x16: {grouped:.0}/s");
    Ok(())
}
