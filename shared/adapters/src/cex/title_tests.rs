//! Table-driven tests over real announcement titles. Every title below was published by a venue; the
//! comment above each group says where it was found.

use super::*;
use AnnouncementAction::{Delisting, Listing, Other};
use Market::{Futures, Margin, Other as Oth, Spot};

struct Case {
    title: &'static str,
    action: AnnouncementAction,
    coins: &'static [&'static str],
    markets: &'static [Market],
}

const fn c(title: &'static str, action: AnnouncementAction, coins: &'static [&'static str], markets: &'static [Market]) -> Case {
    Case { title, action, coins, markets }
}

const CASES: &[Case] = &[
    // /work/shared/reference/users.md and sources.md §2.1/§2.3/§2.4/§2.5 (Binance CMS, OKX, Bybit, KuCoin samples).
    c("Binance Will List Amp (AMP) and PlayDapp (PLA)", Listing, &["AMP", "PLA"], &[Spot]),
    c(
        "Binance Will Add StraitsX USD (XUSD) and Four (FORM) on Earn, Buy Crypto, Margin, Convert & Futures",
        Listing,
        &["XUSD", "FORM"],
        &[Futures, Margin, Oth],
    ),
    c("Notice on New Trading Pairs & Trading Bots Services on Binance Spot - 2025-03-20", Listing, &[], &[Spot, Oth]),
    c("OKX to delist DORA, ICX, STORJ, ZEUS and ELF spot trading pairs", Delisting, &["DORA", "ICX", "STORJ", "ZEUS", "ELF"], &[Spot]),
    c("OKX to delist selected USD spot trading pair", Delisting, &[], &[Spot]),
    c("OKX to list Virtuals Protocol (VIRTUAL) for spot trading", Listing, &["VIRTUAL"], &[Spot]),
    c("New Listing: Arbitrum (ARB) — Deposit, Trade and Stake ARB to Share a 400,000 USDT Prize Pool!", Listing, &["ARB"], &[Spot]),
    c("KuCoin Will List NEW (NEW) in the Innovation Zone!", Listing, &["NEW"], &[Spot]),
    // HarrisonJL/delistwatch tests/fixtures/binance_list.json (captured Binance CMS catalog 161 response).
    c("Binance Futures Will Delist Multiple USDⓈ-M Perpetual Contracts (2026-10-05)", Delisting, &[], &[Futures]),
    c("Notice of Removal of Spot Trading Pairs - 2026-10-02", Delisting, &[], &[Spot]),
    c("Binance Margin And Loans Token Delist on 2026-10-02", Delisting, &[], &[Margin, Oth]),
    c(
        "Binance Will Close UAH Deposits and Withdrawals via Fiat Trade UAH and Delist USDT/UAH Spot Trading Pair",
        Delisting,
        &["USDT"],
        &[Spot],
    ),
    c("Notice of Removal of Margin Trading Pairs - 2026-09-25", Delisting, &[], &[Margin]),
    c("Binance Will Delist USDP on 2026-09-24", Delisting, &["USDP"], &[Spot]),
    c(
        "Binance Alpha Will Remove MTP, BDXN, TALE, BOS, MAIGA, TIMI, SAROS, U (Union), SERAPH, RVV, AIAV, PENGUIN, ODOS, SN3 (2026-09-04)",
        Delisting,
        &["MTP", "BDXN", "TALE", "BOS", "MAIGA", "TIMI", "SAROS", "U", "SERAPH", "RVV", "AIAV", "PENGUIN", "ODOS", "SN3"],
        &[Oth],
    ),
    c("Binance Will Delist ICX, SCRT, STORJ on 2026-09-03", Delisting, &["ICX", "SCRT", "STORJ"], &[Spot]),
    c("Binance Margin And Loan Will Delist BTTC & POWR on 2026-08-14", Delisting, &["BTTC", "POWR"], &[Margin, Oth]),
    c(
        "Binance Will Delist ACX, HFT, PIVX, PYR, VANRY, VIC on 2026-08-17",
        Delisting,
        &["ACX", "HFT", "PIVX", "PYR", "VANRY", "VIC"],
        &[Spot],
    ),
    c("Notice Regarding the Removal of AEUR and Conversion of AEUR to EUR", Delisting, &["AEUR"], &[Spot]),
    c("Binance Futures Will Delist USDⓈ-M AERGOUSDT Perpetual Contract (2026-07-24)", Delisting, &["AERGO"], &[Futures]),
    c("Binance Futures Will Delist USDⓈ-Margined IPUSDT and IPUSDC Perpetual Contracts (2026-06-28)", Delisting, &["IP"], &[Futures]),
    c("Binance Will Delist COS, D, HIGH, MBOX on 2026-06-19", Delisting, &["COS", "D", "HIGH", "MBOX"], &[Spot]),
    c("Binance Will Extend the Monitoring Tag to Include ACT, BLUR, PIVX & QKC on 2026-06-18", Other, &[], &[]),
    // HarrisonJL/delistwatch tests/fixtures/okx_list.json (captured OKX delistings page).
    c("OKX to delist perpetual futures for ONEUSDT", Delisting, &["ONE"], &[Futures]),
    c("OKX to postpone the delisting of ONEUSDT perpetual futures", Other, &["ONE"], &[Futures]),
    c("OKX to delist X-Perp for SOXSUSD", Delisting, &["SOXS"], &[Futures]),
    c("OKX to delist GODS, PRCL and DUCK spot trading pairs", Delisting, &["GODS", "PRCL", "DUCK"], &[Spot]),
    c("OKX to support AERGO crypto migration", Other, &[], &[]),
    c("OKX to delist MAJOR and J spot trading pairs", Delisting, &["MAJOR", "J"], &[Spot]),
    c("OKX to delist KITE margin trading pair", Delisting, &["KITE"], &[Margin]),
    c(
        "OKX to delist RSS3, MEMEFI, GHST, RIO and SWEAT spot trading pairs",
        Delisting,
        &["RSS3", "MEMEFI", "GHST", "RIO", "SWEAT"],
        &[Spot],
    ),
    c("OKX to delist several USDⓈ UM perpetual futures", Delisting, &[], &[Futures]),
    // HarrisonJL/delistwatch tests/fixtures/kucoin_list.json (captured KuCoin delistings page).
    c(
        "KuCoin Futures Will Delist the ICXUSDT and STORJUSDT Perpetual Contracts and Related Services (2026-08-26)",
        Delisting,
        &["ICX", "STORJ"],
        &[Futures],
    ),
    c(
        "KuCoin Futures Will Delist the HFTUSDT, VICUSDT & VANRYUSDT Perpetual Contracts (2026-08-07)",
        Delisting,
        &["HFT", "VIC", "VANRY"],
        &[Futures],
    ),
    c("KuCoin Earn Will Delist the GLMR, MOVR Products", Delisting, &["GLMR", "MOVR"], &[Oth]),
    c("ST: KuCoin Will Delist Cross The Ages (CTA)", Delisting, &["CTA"], &[Spot]),
    c("KuCoin Futures Will Delist the KIOXIAUSDT Stock Index Perpetual Contract (2026-09-28)", Delisting, &["KIOXIA"], &[Futures]),
    c(
        "KuCoin Announcement on Delisting and Relisting Arrangement for SPCXUSDT Stock Index Perpetual Contract (2026-06-10)",
        Delisting,
        &["SPCX"],
        &[Futures],
    ),
    // A captured Binance CMS catalog-48 page embedded as a comment in a public Bitget/Binance trading script
    // (found with the `find_string` code search; the comment holds the raw `articles` array of 2024-10..12).
    c("Binance Will Add Movement (MOVE) on Earn, Buy Crypto, Convert, Margin & Futures", Listing, &["MOVE"], &[Futures, Margin, Oth]),
    c("Movement (MOVE) Listing Will Be Advanced", Other, &["MOVE"], &[]),
    c("Introducing Movement (MOVE) on Binance HODLer Airdrops! Subscribe your BNB to Simple Earn", Listing, &["MOVE"], &[Spot, Oth]),
    c("Binance Will List Across Protocol (ACX) and Orca (ORCA) with Seed Tag Applied", Listing, &["ACX", "ORCA"], &[Spot]),
    c(
        "Binance Futures Will Launch USDⓈ-Margined KAIAUSDT and AEROUSDT Perpetual Contracts With up to 75x Leverage",
        Listing,
        &["KAIA", "AERO"],
        &[Futures],
    ),
    c("Binance Futures Copy Trading Adds New USDⓈ-M Perpetual Contracts (2024-12-03)", Listing, &[], &[Futures, Oth]),
    c(
        "Binance Futures Will Launch USDⓈ-Margined 1000WHYUSDT and 1000CHEEMSUSDT Perpetual Contracts With up to 75x Leverage",
        Listing,
        &["1000WHY", "1000CHEEMS"],
        &[Futures],
    ),
    c("Binance Options Will Launch BNBUSDT and SOLUSDT Monthly Options", Other, &["BNB", "SOL"], &[Oth]),
    c("Binance Margin Adds New USDC Pairs - 2024-11-25", Listing, &[], &[Margin]),
    c("Introducing Usual (USUAL) on Binance Launchpool and Pre-Market!", Listing, &["USUAL"], &[Spot, Oth]),
    c(
        "Binance Will Add Act I : The AI Prophecy (ACT) and Peanut the Squirrel (PNUT) on Earn, Buy Crypto, Convert, Margin & Futures",
        Listing,
        &["ACT", "PNUT"],
        &[Futures, Margin, Oth],
    ),
    c(
        "Binance Futures Will Launch USDⓈ-Margined GRASSUSDT, DRIFTUSDT, and SWELLUSDT Perpetual Contracts With up to 75x Leverage",
        Listing,
        &["GRASS", "DRIFT", "SWELL"],
        &[Futures],
    ),
    c(
        "Binance Futures Will Launch USDⓈ-Margined 1000000MOGUSDT Perpetual Contract With up to 75x Leverage",
        Listing,
        &["1000000MOG"],
        &[Futures],
    ),
    c("Binance Will Add Kaia (KAIA) on Earn, Buy Crypto, Convert, and Margin", Listing, &["KAIA"], &[Margin, Oth]),
    c("Binance Has Added Binance Staked SOL (BNSOL) on Auto-Invest, Buy Crypto & Loans", Other, &["BNSOL"], &[Oth]),
    c("Binance Will End the Scroll (SCR) Pre-Market and List Scroll (SCR) with Seed Tag Applied", Listing, &["SCR"], &[Spot, Oth]),
    c("Binance Will List Binance Staked SOL (BNSOL) and Introduce BNSOL Boosted APR Promotion", Listing, &["BNSOL"], &[Spot]),
    c("Binance Will List Magic Eden (ME) with Seed Tag Applied", Listing, &["ME"], &[Spot]),
    // A public Python listing bot's ExtractorTest (found with the `find_string` code search).
    c("Binance Futures Will Launch USDⓈ-M ASTR Perpetual Contracts with Up to 20X Leverage", Listing, &["ASTR"], &[Futures]),
    c(
        "Binance Futures Will Launch USDⓈ-M MINA and HIGH Perpetual Contracts with Up to 20X Leverage",
        Listing,
        &["MINA", "HIGH"],
        &[Futures],
    ),
    c("Binance Futures Will Launch USDⓈ-M Threshold (T) Perpetual Contracts with Up to 20X Leverage", Listing, &["T"], &[Futures]),
    c(
        "Binance Futures Will Launch USDⓈ-M Threshold (THR) and HIGH Perpetual Contracts with Up to 20X Leverage",
        Listing,
        &["THR", "HIGH"],
        &[Futures],
    ),
    c("Binance Adds FET/TRY & PROS/USDT Trading Pairs", Listing, &["FET", "PROS"], &[Spot]),
    c("Binance Adds ARPA/ETH, PHB/USDT & VITE/BUSD Trading Pairs", Listing, &["ARPA", "PHB", "VITE"], &[Spot]),
    c("Binance Will List Optimism (OP)", Listing, &["OP"], &[Spot]),
    c("Binance Will List MobileCoin (MOB) and Nexo (NEXO)", Listing, &["MOB", "NEXO"], &[Spot]),
    c("Binance Will List GMX (GMX) in the Innovation Zone", Listing, &["GMX"], &[Spot]),
    // posipaka-trade/bascrap internal/analyzer tests (Go).
    c("Binance Will List Gnosis (GNO)", Listing, &["GNO"], &[Spot]),
    c("Binance Will List Alpaca Finance (ALPACA) and Harvest Finance (FARM) in the Innovation Zone", Listing, &["ALPACA", "FARM"], &[Spot]),
    c("Binance Adds AXS/AUD, AXS/USDT & TVK/BUSD Trading Pairs", Listing, &["AXS", "TVK"], &[Spot]),
    c(
        "Binance Adds ALPACA, MINA, QUICK & RAY on Isolated Margin, Trade to Win Interest Free Vouchers and Special Merch",
        Listing,
        &["ALPACA", "MINA", "QUICK", "RAY"],
        &[Margin],
    ),
    c("Binance Adds DOGE/BIDR, ETC/BRL, ETC/UAH Trading Pairs", Listing, &["DOGE", "ETC"], &[Spot]),
    c(
        "FOR, FXS, HNT, KLAY, LPT and PERP Listing on Isolated Margin, $1M Margin 0% Interest Vouchers Giveaway",
        Listing,
        &["FOR", "FXS", "HNT", "KLAY", "LPT", "PERP"],
        &[Margin],
    ),
    c("Earn Up to 30% APY on C98 and ARPA with Binance Savings", Other, &[], &[Oth]),
    c("Binance Completes Axie Infinity (AXS) & Smooth Love Potion (SLP) Ronin Network Integration", Other, &["AXS", "SLP"], &[]),
    c("Introducing Mobox (MBOX) on Binance Launchpool! Farm MBOX by Staking BNB, MBOX and BUSD Tokens", Listing, &["MBOX"], &[Spot]),
    // Captured BWEnews/Binance/Bitget tweets (2025-03-26) in a public Java crawler's doc comment.
    c(
        "Binance Futures Will Launch USDⓈ-Margined JELLYJELLYUSDT and MAVIAUSDT Perpetual Contracts",
        Listing,
        &["JELLYJELLY", "MAVIA"],
        &[Futures],
    ),
    c("OKX to list perpetual futures for JELLYJELLY crypto", Listing, &["JELLYJELLY"], &[Futures]),
    c("Bitget Will List Banana For Scale (BANANAS31) in the Innovation and Meme Zone!", Listing, &["BANANAS31"], &[Spot]),
];

#[test]
fn real_titles_table() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for case in CASES {
        let got = parse_title(case.title);
        let coins: Vec<&str> = got.coins.iter().map(|c| c.symbol.as_str()).collect();
        if got.action != case.action || coins != case.coins || got.markets != case.markets {
            failures.push(format!(
                "{}\n   want {:?} {:?} {:?}\n   got  {:?} {:?} {:?}",
                case.title, case.action, case.coins, case.markets, got.action, coins, got.markets
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} titles misparsed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn names_and_pairs() {
    let t = parse_title("Binance Will List Amp (AMP) and PlayDapp (PLA)");
    assert_eq!(t.coins[0].name.as_deref(), Some("Amp"));
    assert_eq!(t.coins[1].name.as_deref(), Some("PlayDapp"));

    let t = parse_title("Binance Will Add StraitsX USD (XUSD) and Four (FORM) on Earn, Buy Crypto, Margin, Convert & Futures");
    assert_eq!(t.coins[0].name.as_deref(), Some("StraitsX USD"));

    let t = parse_title("Binance Adds ARPA/ETH, PHB/USDT & VITE/BUSD Trading Pairs");
    let want: Vec<(String, String)> =
        [("ARPA", "ETH"), ("PHB", "USDT"), ("VITE", "BUSD")].iter().map(|(b, q)| ((*b).to_string(), (*q).to_string())).collect();
    assert_eq!(t.pairs, want);

    let t = parse_title("Binance Futures Will Delist USDⓈ-Margined IPUSDT and IPUSDC Perpetual Contracts (2026-06-28)");
    assert_eq!(t.pairs, vec![("IP".to_string(), "USDT".to_string()), ("IP".to_string(), "USDC".to_string())]);

    let t = parse_title("Binance Alpha Will Remove MTP, BDXN, TALE, BOS, MAIGA, TIMI, SAROS, U (Union), SERAPH (2026-09-04)");
    assert_eq!(t.coins.iter().find(|c| c.symbol == "U").and_then(|c| c.name.as_deref()), Some("Union"));
}

#[test]
fn quotes_are_not_coins() {
    let t = parse_title("Binance Adds FET/TRY & PROS/USDT Trading Pairs");
    assert!(t.coins.iter().all(|c| c.symbol != "USDT" && c.symbol != "TRY"));
}

#[test]
fn scheduled_time_of_delisting_titles() {
    use chrono::TimeZone;
    let at = |y, m, d, h, min| chrono::Utc.with_ymd_and_hms(y, m, d, h, min, 0).single();
    assert_eq!(scheduled_time("Binance Will Delist BETA, BURGER, LOKA on 2024-09-30"), at(2024, 9, 30, 0, 0));
    assert_eq!(scheduled_time("Binance Will Delist ANT, MULTI, VAI on 2024-02-20 03:00 (UTC)"), at(2024, 2, 20, 3, 0));
    assert_eq!(scheduled_time("Notice of Removal of Spot Trading Pairs - 2025-03-21"), at(2025, 3, 21, 0, 0));
    assert_eq!(scheduled_time("OKX to delist DORA, ICX, STORJ, ZEUS and ELF spot trading pairs"), None);
    assert_eq!(scheduled_time("Delist on 2025-13-45"), None);
}
