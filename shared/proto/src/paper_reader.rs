//! [`PaperReader`] and [`ReplayReader`] over gRPC `Ledger.View`: how the CLI and `nl serve web` read
//! experiments, strategy runs, fills, a run's trades and a backtest's replay inputs in distributed mode,
//! where only the ledger process opens the database. Paged answers are read to the end.

use nl_domain::paper_read::{
    ExperimentRecord, FillQuery, FollowPage, FollowQuery, PaperReader, ReplayPage, ReplayQuery, ReplayReader, RunTrades, RunTradesPage, RunTradesQuery,
    StrategyRunRecord,
};
use nl_domain::{Envelope, OrderFilled, ReadError};

use crate::GrpcLedgerReader;

#[async_trait::async_trait]
impl PaperReader for GrpcLedgerReader {
    async fn experiments(&self) -> Result<Vec<ExperimentRecord>, ReadError> {
        self.view("experiments", &()).await
    }

    async fn experiment(&self, id: &str) -> Result<Option<ExperimentRecord>, ReadError> {
        self.view("experiment", &id).await
    }

    async fn strategy_runs(&self, mode: Option<&str>) -> Result<Vec<StrategyRunRecord>, ReadError> {
        self.view("strategy_runs", &mode).await
    }

    async fn strategy_run(&self, run_id: &str) -> Result<Option<StrategyRunRecord>, ReadError> {
        self.view("strategy_run", &run_id).await
    }

    async fn fills(&self, q: &FillQuery) -> Result<Vec<OrderFilled>, ReadError> {
        self.view("fills", q).await
    }

    async fn run_trades(&self, run_id: &str) -> Result<RunTrades, ReadError> {
        let mut q = RunTradesQuery { run_id: run_id.to_string(), after: 0, limit: 0 };
        let mut all = RunTrades::default();
        loop {
            let page: RunTradesPage = self.view("run_trades", &q).await?;
            all.extend(page.trades);
            match page.next {
                Some(next) if next > q.after => q.after = next,
                _ => return Ok(all),
            }
        }
    }
}

#[async_trait::async_trait]
impl ReplayReader for GrpcLedgerReader {
    async fn replay_inputs(&self, run_id: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Vec<Envelope>, ReadError> {
        let mut q = ReplayQuery { run_id: run_id.map(String::from), from: from.map(String::from), to: to.map(String::from), after: 0, limit: 0 };
        let mut all = Vec::new();
        loop {
            let page: ReplayPage = self.view("replay_inputs", &q).await?;
            all.extend(page.events);
            match page.next {
                Some(next) if next > q.after => q.after = next,
                _ => break,
            }
        }
        // Commit order to time order; stable, so equal times stay in commit order (as the ledger's own read).
        all.sort_by(|a, b| a.ts.cmp(&b.ts));
        Ok(all.into_iter().map(|e| e.event).collect())
    }

    async fn replay_inputs_after(&self, after: i64, from: Option<&str>, limit: u32) -> Result<(Vec<Envelope>, i64), ReadError> {
        let page: FollowPage = self.view("replay_inputs_after", &FollowQuery { after, from: from.map(String::from), limit }).await?;
        Ok((page.events, page.last))
    }
}
