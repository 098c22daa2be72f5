//! Announcement title parser: which coins, pairs and markets a CEX announcement title names, and whether it
//! is a listing or a delisting.
//!
//! Titles follow a few grammars: `Name (SYM)` groups ("Binance Will List Amp (AMP) and PlayDapp (PLA)"),
//! `BASE/QUOTE` pairs ("Binance Adds FET/TRY & PROS/USDT Trading Pairs"), concatenated contract symbols
//! ("... Launch USDⓈ-M KAIAUSDT and AEROUSDT Perpetual Contracts") and bare ticker lists ("OKX to delist DORA,
//! ICX, STORJ, ZEUS and ELF spot trading pairs"). Bare tickers count only inside a list that starts at a lead
//! word (`List`, `Delist`, `for`, `USDⓈ-M`, ...) and continues through `,`/`and`/`&`, so capitalised words
//! elsewhere ("Act I : The AI Prophecy", "Stake ARB to Share 400,000 USDT") are not mistaken for coins.

use nl_domain::Ts;

use super::types::{Announcement, AnnouncementAction, CoinRef, Market};

/// What a title says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleInfo {
    /// Every coin named, in title order, without duplicates.
    pub coins: Vec<CoinRef>,
    pub action: AnnouncementAction,
    /// Markets concerned, sorted, without duplicates.
    pub markets: Vec<Market>,
    /// `(base, quote)` pairs spelled out or implied by contract symbols (`KAIAUSDT` → `KAIA`/`USDT`).
    pub pairs: Vec<(String, String)>,
}

/// Quote currencies stripped from concatenated contract symbols, longest first.
const CONTRACT_QUOTES: &[&str] = &["FDUSD", "USDT", "USDC", "BUSD", "USD"];

/// Uppercase words that are never coins on their own in a title: quotes, fiat, venue names, time zones.
const NOT_COINS: &[&str] = &[
    "USDT", "USDC", "USD", "BUSD", "FDUSD", "TUSD", "EUR", "TRY", "BRL", "GBP", "AUD", "UAH", "JPY", "KZT", "BIDR", "ARS", "MXN", "PLN",
    "RON", "ZAR", "UTC", "GMT", "API", "VIP", "AMA", "FAQ", "KYC", "APR", "APY", "OKX", "ST", "TGE",
];

/// Parses one announcement title. Never fails: an unrecognised title is `action: Other` with whatever coins
/// it names.
#[must_use]
pub fn parse_title(title: &str) -> TitleInfo {
    let lower = title.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !(c.is_alphanumeric() || c == '-')).filter(|w| !w.is_empty()).collect();
    let mut markets = detect_markets(&lower, &words);
    let futures_ctx = markets.contains(&Market::Futures) || words.contains(&"options");
    let mut action = detect_action(&lower, &words, &markets);
    let (coins, pairs) = extract(title, futures_ctx);

    let trading = |m: &Market| matches!(m, Market::Spot | Market::Futures | Market::Margin);
    if action == AnnouncementAction::Listing && !markets.is_empty() && !markets.iter().any(trading) {
        // "Binance Adds BERA on Simple Earn": a product addition, not a market listing.
        action = AnnouncementAction::Other;
    }
    if action != AnnouncementAction::Other && markets.is_empty() {
        // "Binance Will List Optimism (OP)", "Binance Will Delist USDP on ...": spot unless said otherwise.
        markets.push(Market::Spot);
    }
    markets.sort();
    markets.dedup();
    TitleInfo { coins, action, markets, pairs }
}

impl Announcement {
    /// Builds an announcement, reading coins, action, markets and pairs from its title.
    #[must_use]
    pub fn from_title(venue: &str, id: String, title: String, url: Option<String>, published_at: Option<Ts>) -> Self {
        let info = parse_title(&title);
        Self {
            venue: venue.to_string(),
            id,
            title,
            url,
            published_at,
            coins: info.coins,
            action: info.action,
            markets: info.markets,
            pairs: info.pairs,
        }
    }
}

fn has_phrase(lower: &str, p: &str) -> bool {
    lower.contains(p)
}

fn detect_markets(lower: &str, words: &[&str]) -> Vec<Market> {
    let w = |x: &str| words.contains(&x);
    let mut m = Vec::new();
    if w("futures")
        || w("perpetual")
        || w("perps")
        || w("x-perp")
        || ((w("contract") || w("contracts")) && !has_phrase(lower, "smart contract"))
    {
        m.push(Market::Futures);
    }
    let margin = w("margin");
    if margin {
        m.push(Market::Margin);
    }
    if w("spot")
        || has_phrase(lower, "innovation zone")
        || has_phrase(lower, "meme zone")
        || has_phrase(lower, "seed tag")
        || has_phrase(lower, "hodler airdrops")
        || w("launchpool")
        || ((has_phrase(lower, "trading pair")) && !margin)
    {
        m.push(Market::Spot);
    }
    if w("earn")
        || w("convert")
        || w("loan")
        || w("loans")
        || w("loanable")
        || w("auto-invest")
        || w("alpha")
        || w("options")
        || w("pre-market")
        || has_phrase(lower, "buy crypto")
        || has_phrase(lower, "copy trading")
        || has_phrase(lower, "trading bots")
    {
        m.push(Market::Other);
    }
    m
}

fn detect_action(lower: &str, words: &[&str], markets: &[Market]) -> AnnouncementAction {
    let w = |x: &str| words.contains(&x);
    if has_phrase(lower, "postpone") {
        return AnnouncementAction::Other;
    }
    if words.iter().any(|x| x.starts_with("delist")) || w("removal") || w("remove") || w("removes") || w("removed") {
        return AnnouncementAction::Delisting;
    }
    let trading_market = markets.iter().any(|m| matches!(m, Market::Spot | Market::Futures | Market::Margin));
    if w("list")
        || w("lists")
        || w("listed")
        || w("add")
        || w("adds")
        || w("added")
        || has_phrase(lower, "new listing")
        || has_phrase(lower, "listing on")
        || has_phrase(lower, "new trading pair")
        || has_phrase(lower, "will be available on")
        || ((w("launch") || w("launches")) && trading_market)
        || has_phrase(lower, "hodler airdrops")
        || w("launchpool")
    {
        return AnnouncementAction::Listing;
    }
    AnnouncementAction::Other
}

/// The date (and `HH:MM` time, UTC, when it follows) a title names: "Binance Will Delist X on 2025-03-21",
/// "... on 2025-03-21 03:00 (UTC)". Midnight UTC when only the date is given; `None` without a date.
#[must_use]
pub fn scheduled_time(title: &str) -> Option<Ts> {
    let words: Vec<&str> = title.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',').filter(|w| !w.is_empty()).collect();
    words.iter().enumerate().find_map(|(i, w)| {
        let date = chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").ok()?;
        let time = words.get(i + 1).and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok()).unwrap_or_default();
        Some(date.and_time(time).and_utc())
    })
}

/// A whitespace token or a parenthesised group.
#[derive(Debug)]
enum Unit {
    Word { core: String },
    Group { inner: String },
}

#[derive(Debug)]
struct Tok {
    unit: Unit,
    /// The raw text ended with `,` or `;` (a list continues).
    sep_after: bool,
    /// Part of a `Name (SYM)` name already.
    consumed: bool,
}

fn tokenize(title: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut group: Option<String> = None;
    for raw in title.split_whitespace() {
        let sep_after = raw.ends_with(',') || raw.ends_with(';');
        if let Some(g) = group.as_mut() {
            g.push(' ');
            g.push_str(raw);
            if raw.contains(')') {
                let inner = g.split(')').next().unwrap_or_default().to_string();
                out.push(Tok { unit: Unit::Group { inner }, sep_after, consumed: false });
                group = None;
            }
            continue;
        }
        if let Some(rest) = raw.strip_prefix('(') {
            if rest.contains(')') {
                let inner = rest.split(')').next().unwrap_or_default().to_string();
                out.push(Tok { unit: Unit::Group { inner }, sep_after, consumed: false });
            } else {
                group = Some(rest.to_string());
            }
            continue;
        }
        let core = raw.trim_end_matches([',', ';', '!', '.', '?', ':']).to_string();
        if core.is_empty() {
            // A lone ":" or "—": a hard break in any list or name.
            out.push(Tok { unit: Unit::Word { core: ":".into() }, sep_after: false, consumed: false });
        } else {
            let colon = raw.ends_with(':');
            out.push(Tok { unit: Unit::Word { core }, sep_after, consumed: false });
            if colon {
                out.push(Tok { unit: Unit::Word { core: ":".into() }, sep_after: false, consumed: false });
            }
        }
    }
    out
}

/// Uppercase ASCII letters/digits, 1-20 chars, at least one letter.
fn symbol_like(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_uppercase())
}

fn is_list_sep(t: &Tok) -> bool {
    matches!(&t.unit, Unit::Word { core } if core == "and" || core == "&" || core == "And")
}

fn is_lead(core: &str) -> bool {
    let l = core.to_lowercase();
    matches!(
        l.as_str(),
        "list"
            | "lists"
            | "listed"
            | "listing"
            | "add"
            | "adds"
            | "added"
            | "delist"
            | "delists"
            | "remove"
            | "removes"
            | "launch"
            | "launches"
            | "for"
            | "of"
            | "the"
    ) || (l.starts_with("usd") && (l.ends_with("-m") || l.ends_with("-margined")))
        || l == "coin-m"
        || l == "coin-margined"
}

/// Words that end a `Name (SYM)` name when walking back from the parenthesis.
fn is_name_stop(core: &str) -> bool {
    let l = core.to_lowercase();
    matches!(
        l.as_str(),
        ":" | "list"
            | "lists"
            | "listing"
            | "add"
            | "adds"
            | "added"
            | "and"
            | "&"
            | "will"
            | "delist"
            | "of"
            | "remove"
            | "launch"
            | "launches"
            | "introducing"
            | "end"
            | "on"
            | "to"
            | "—"
            | "-"
    )
}

fn pair_of(core: &str) -> Option<(String, String)> {
    let (b, q) = core.split_once('/')?;
    (symbol_like(b) && symbol_like(q)).then(|| (b.to_string(), q.to_string()))
}

fn push_coin(coins: &mut Vec<CoinRef>, symbol: &str, name: Option<String>) {
    if let Some(c) = coins.iter_mut().find(|c| c.symbol == symbol) {
        if c.name.is_none() {
            c.name = name;
        }
    } else {
        coins.push(CoinRef { symbol: symbol.to_string(), name });
    }
}

fn push_pair(pairs: &mut Vec<(String, String)>, p: (String, String)) {
    if !pairs.contains(&p) {
        pairs.push(p);
    }
}

/// `KAIAUSDT` → `("KAIA", "USDT")` in a futures/options title.
fn split_contract(sym: &str) -> Option<(String, String)> {
    CONTRACT_QUOTES
        .iter()
        .find(|q| sym.len() > q.len() && sym.ends_with(*q))
        .map(|q| (sym[..sym.len() - q.len()].to_string(), (*q).to_string()))
}

fn extract(title: &str, futures_ctx: bool) -> (Vec<CoinRef>, Vec<(String, String)>) {
    let mut toks = tokenize(title);
    // Slot per token so coins keep title order across both passes.
    let mut found: Vec<Option<CoinRef>> = (0..toks.len()).map(|_| None).collect();
    let mut pairs = Vec::new();

    // Pass 1: `Name (SYM)` groups; the name words are consumed so they are not read as bare tickers.
    for i in 0..toks.len() {
        let Unit::Group { inner } = &toks[i].unit else { continue };
        let sym = inner.trim().to_string();
        if !symbol_like(&sym) || NOT_COINS.contains(&sym.as_str()) {
            continue;
        }
        let mut name_words = Vec::new();
        let mut j = i;
        while j > 0 && name_words.len() < 6 {
            j -= 1;
            let t = &toks[j];
            let Unit::Word { core } = &t.unit else { break };
            if t.consumed || t.sep_after || is_name_stop(core) {
                break;
            }
            name_words.push(j);
        }
        name_words.reverse();
        let name = (!name_words.is_empty()).then(|| {
            name_words
                .iter()
                .filter_map(|k| match &toks[*k].unit {
                    Unit::Word { core } => Some(core.as_str()),
                    Unit::Group { .. } => None,
                })
                .collect::<Vec<_>>()
                .join(" ")
        });
        for k in name_words {
            toks[k].consumed = true;
        }
        found[i] = Some(CoinRef { symbol: sym, name });
    }

    // Pass 2: pairs and bare ticker lists.
    let mut open = true; // a title may start with a list: "FOR, FXS, HNT ... Listing on Isolated Margin"
    let mut last_accepted: Option<usize> = None;
    for i in 0..toks.len() {
        let continues = toks[i].sep_after || toks.get(i + 1).is_some_and(is_list_sep);
        if toks[i].consumed {
            open = false;
            continue;
        }
        if is_list_sep(&toks[i]) {
            continue;
        }
        match &toks[i].unit {
            Unit::Group { inner } => {
                if found[i].is_some() {
                    open = continues;
                } else if let Some(k) = last_accepted.filter(|k| *k + 1 == i) {
                    // "USD1 (World Liberty Financial USD)", "U (Union)": the group names the ticker before it.
                    if let Some(c) = found[k].as_mut() {
                        c.name.get_or_insert_with(|| inner.trim().to_string());
                    }
                    open = continues;
                } else {
                    open = false;
                }
            }
            Unit::Word { core } => {
                if let Some(p) = pair_of(core) {
                    found[i] = Some(CoinRef { symbol: p.0.clone(), name: None });
                    push_pair(&mut pairs, p);
                    last_accepted = Some(i);
                    open = continues;
                } else if symbol_like(core) {
                    if open && !NOT_COINS.contains(&core.as_str()) {
                        let sym = match split_contract(core).filter(|_| futures_ctx) {
                            Some((base, quote)) => {
                                push_pair(&mut pairs, (base.clone(), quote));
                                base
                            }
                            None => core.clone(),
                        };
                        found[i] = Some(CoinRef { symbol: sym, name: None });
                        last_accepted = Some(i);
                        open = continues;
                    } else {
                        open = false;
                    }
                } else {
                    open = is_lead(core);
                }
            }
        }
    }

    let mut coins = Vec::new();
    for c in found.into_iter().flatten() {
        push_coin(&mut coins, &c.symbol, c.name);
    }
    (coins, pairs)
}

#[cfg(test)]
#[path = "title_tests.rs"]
mod tests;
