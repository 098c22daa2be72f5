//! Program-derived addresses (Solana's `Pubkey::find_program_address`): the first bump from 255 down
//! whose `sha256(seeds ‖ [bump] ‖ program_id ‖ "ProgramDerivedAddress")` is **off** the ed25519 curve
//! (no private key can sign for it). Used for the Metaplex metadata account of a mint (reference
//! sources-2 §6: seeds `["metadata", program_id, mint]`, program `metaqbxx…`).

use curve25519_dalek::edwards::CompressedEdwardsY;
use sha2::{Digest, Sha256};

/// Metaplex Token Metadata program.
pub const METAPLEX_METADATA: &str = "metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s";

const PDA_MARKER: &[u8] = b"ProgramDerivedAddress";

fn key_bytes(key: &str) -> Option<[u8; 32]> {
    bs58::decode(key).into_vec().ok()?.try_into().ok()
}

/// Whether 32 bytes are a valid compressed ed25519 point (what Solana's `is_on_curve` checks).
fn on_curve(bytes: &[u8; 32]) -> bool {
    CompressedEdwardsY(*bytes).decompress().is_some()
}

/// `find_program_address(seeds, program)`: the address (base58) and its bump; `None` when `program` is
/// not a base58 pubkey or (never in practice) no bump gives an off-curve address.
#[must_use]
pub fn find_program_address(seeds: &[&[u8]], program: &str) -> Option<(String, u8)> {
    let program = key_bytes(program)?;
    (0..=u8::MAX).rev().find_map(|bump| {
        let mut h = Sha256::new();
        for s in seeds {
            h.update(s);
        }
        h.update([bump]);
        h.update(program);
        h.update(PDA_MARKER);
        let hash: [u8; 32] = h.finalize().into();
        (!on_curve(&hash)).then(|| (bs58::encode(hash).into_string(), bump))
    })
}

/// The Metaplex metadata account of `mint`; `None` when `mint` is not a base58 pubkey.
#[must_use]
pub fn metaplex_metadata_address(mint: &str) -> Option<String> {
    let mint = key_bytes(mint)?;
    let program = key_bytes(METAPLEX_METADATA)?;
    find_program_address(&[b"metadata", &program, &mint], METAPLEX_METADATA).map(|(a, _)| a)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A published derivation (mint MILLI → its metadata account), as the lmax solana4j tests pin it.
    #[test]
    fn metadata_pda_of_a_known_mint() {
        assert_eq!(metaplex_metadata_address("HDLRMKW1FDz2q5Zg778CZx26UgrtnqpUDkNNJHhmVUFr").unwrap(), "Ff68e9DL9p1GUBkhRXxdv61wiYd8X6iFWTS6XWgsDptP");
    }

    #[test]
    fn pdas_are_off_curve_and_bad_keys_give_none() {
        let (a, _) = find_program_address(&[b"metadata"], METAPLEX_METADATA).unwrap();
        assert!(!on_curve(&key_bytes(&a).unwrap()));
        // A real wallet key (a pump.fun creator) is an ed25519 point.
        assert!(on_curve(&key_bytes("BFtnjgkbiVnihLoPY87x7hCiEBenCD6zJCHtpdacZw5A").unwrap()));
        assert_eq!(metaplex_metadata_address("not-base58-0OIl"), None);
        assert_eq!(metaplex_metadata_address("11111111"), None, "not 32 bytes");
    }
}
