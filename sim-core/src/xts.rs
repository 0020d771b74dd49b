//! AES-XTS (IEEE 1619-2018) over one data unit, in straight passes over a page through the block
//! cipher's multi-block API.
//!
//! Both memory models encrypt a 4 KiB page as one XTS data unit: SEV-SNP's engine (AES-128 XEX and
//! AES-256-XTS, snp.md §4.7) and TME-MK (AES-XTS-128 per KeyID, tdx.md §5.6). This module is their one
//! implementation of the mode. Block `j` of a data unit whose encrypted tweak is `T_0 = E_K2(i)` is
//! `C_j = E_K1(P_j ⊕ T_j) ⊕ T_j` with `T_j = T_0·α^j` in GF(2^128) (the XTS polynomial
//! `x^128 + x^7 + x^2 + x + 1`, little-endian byte order as IEEE 1619 §5.2 specifies).
//!
//! A page is four passes: the 256 tweaks (four interleaved doubling chains of 64, whose starting points
//! are a whole-word shift apart, so no chain's latency is on the critical path); `dst = src ⊕ T`; one
//! `encrypt_blocks_inout`/`decrypt_blocks_inout` call on all 256 blocks (the `aes` crate's eight-way
//! AES-NI backend); `dst ⊕= T`. Each pass is a plain loop the compiler vectorises, and a caller's
//! per-line work ([`LineHook`], e.g. a line MAC) runs as its own loop beside them. Fusing the passes
//! into groups of eight blocks inside the cipher's backend closure measured two to three times slower
//! here (the XORs stop vectorising); so did tweak chains stepping by α^4 or α^8.
//!
//! This is a simulator: nothing here is constant-time.

use cipher::consts::U16;
use cipher::inout::InOutBuf;
use cipher::{BlockDecrypt, BlockEncrypt, BlockSizeUser};

/// Bytes in a cipher block.
pub const BLOCK_SIZE: usize = 16;
/// Blocks in a 64-byte cache line, the unit a [`LineHook`] sees.
pub const BLOCKS_PER_LINE: usize = 4;

/// Multiplies a tweak by α (IEEE 1619 §5.2).
#[inline(always)]
pub fn mul_alpha(t: u128) -> u128 {
    (t << 1) ^ ((t >> 127) * 0x87)
}

/// Multiplies a tweak by α^8: shift by a byte and fold the byte shifted out back in with
/// `x^7 + x^2 + x + 1` (its carry-less product with a byte fits in 15 bits, so no second reduction).
#[inline(always)]
pub fn mul_alpha8(t: u128) -> u128 {
    let top = t >> 120;
    (t << 8) ^ (top << 7) ^ (top << 2) ^ (top << 1) ^ top
}

/// `t·α^n`.
pub fn mul_alpha_pow(mut t: u128, n: usize) -> u128 {
    for _ in 0..n / 8 {
        t = mul_alpha8(t);
    }
    for _ in 0..n % 8 {
        t = mul_alpha(t);
    }
    t
}

/// Encrypt or decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `C = E_K1(P ⊕ T) ⊕ T`.
    Encrypt,
    /// `P = D_K1(C ⊕ T) ⊕ T`.
    Decrypt,
}

/// Work a caller does on each 64-byte line (four blocks) of the pass, while the page is in cache.
///
/// A "line" is four consecutive blocks of the range starting at the range's first block; `block`
/// names the line's first block within the data unit and `tweak` is that block's tweak `T_block`.
/// Blocks past the last whole line of the range are not shown to the hook. The pass runs in rounds
/// of a page (256 blocks): `before` sees every line of a round, in order, before any block of it is
/// processed, and `after` sees every line once the whole round is written.
pub trait LineHook {
    /// A source line; returning `false` stops the pass before its round is processed ([`xts`]
    /// returns `Err(block)`).
    #[inline(always)]
    fn before(&mut self, _block: usize, _src: &[u8], _tweak: u128) -> bool {
        true
    }

    /// The output line once it is written.
    #[inline(always)]
    fn after(&mut self, _block: usize, _dst: &[u8], _tweak: u128) {}
}

/// A hook that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHook;

impl LineHook for NoHook {}

/// XTS over blocks `first..` of a data unit whose block-0 tweak is `t0 = E_K2(i)` (as a little-endian
/// `u128`), from `src` into `dst` (`min(src, dst)` whole blocks; the rest of `dst` is left alone).
/// `first` is a block index within the data unit (IEEE 1619 caps a data unit at 2^20 blocks; the
/// models' is 256): the first tweak costs `first / 8` steps.
///
/// `Err(block)` when the hook's `before` refused the line starting at `block`; `dst` is then
/// unspecified (a caller that must not leak partial output clears it).
pub fn xts<C, H>(
    cipher: &C,
    dir: Direction,
    t0: u128,
    first: usize,
    src: &[u8],
    dst: &mut [u8],
    hook: &mut H,
) -> Result<(), usize>
where
    C: BlockEncrypt + BlockDecrypt + BlockSizeUser<BlockSize = U16>,
    H: LineHook,
{
    run(cipher, dir, t0, first, Some(src), dst, hook)
}

/// [`xts`] in place on `data`.
pub fn xts_in_place<C, H>(
    cipher: &C,
    dir: Direction,
    t0: u128,
    first: usize,
    data: &mut [u8],
    hook: &mut H,
) -> Result<(), usize>
where
    C: BlockEncrypt + BlockDecrypt + BlockSizeUser<BlockSize = U16>,
    H: LineHook,
{
    run(cipher, dir, t0, first, None, data, hook)
}

/// Blocks per round of the pass: a 4 KiB page.
const ROUND: usize = 256;
/// Ranges up to this many blocks (line-granular accesses) use a small tweak buffer.
const SMALL: usize = 16;
/// Bytes in a line.
const LINE: usize = BLOCKS_PER_LINE * BLOCK_SIZE;

/// `t·α^64`: a whole-word shift, so the 64 bits shifted out fold back in as `h·(x^7 + x^2 + x + 1)`,
/// a 71-bit carry-less product (no funnel shifts, no second reduction).
#[inline(always)]
fn mul_alpha64(t: u128) -> u128 {
    let l = t as u64;
    let h = (t >> 64) as u64;
    let lo = h ^ (h << 1) ^ (h << 2) ^ (h << 7);
    let hi = l ^ (h >> 63) ^ (h >> 62) ^ (h >> 57);
    u128::from(lo) | (u128::from(hi) << 64)
}

/// Writes the tweaks `T, T·α, …` into `tw` and returns the next one. A full page runs as four
/// interleaved doubling chains of 64 (starting points a word shift apart), so the serial latency of
/// one chain is hidden; a shorter run is one chain.
#[inline(always)]
fn tweaks(t: u128, tw: &mut [[u8; BLOCK_SIZE]]) -> u128 {
    if let Ok(tw) = <&mut [[u8; BLOCK_SIZE]; ROUND]>::try_from(&mut *tw) {
        let mut c = [t, 0, 0, 0];
        for k in 1..4 {
            c[k] = mul_alpha64(c[k - 1]);
        }
        let (a, rest) = tw.split_at_mut(64);
        let (b, rest) = rest.split_at_mut(64);
        let (d, e) = rest.split_at_mut(64);
        for (((a, b), d), e) in a
            .iter_mut()
            .zip(b.iter_mut())
            .zip(d.iter_mut())
            .zip(e.iter_mut())
        {
            *a = c[0].to_le_bytes();
            *b = c[1].to_le_bytes();
            *d = c[2].to_le_bytes();
            *e = c[3].to_le_bytes();
            for x in &mut c {
                *x = mul_alpha(*x);
            }
        }
        return c[3];
    }
    let mut x = t;
    for d in tw {
        *d = x.to_le_bytes();
        x = mul_alpha(x);
    }
    x
}

/// `d = s ⊕ t` block by block, bytewise so that it compiles to vector XORs.
#[inline(always)]
fn xor_blocks(d: &mut [u8], s: &[u8], t: &[[u8; BLOCK_SIZE]]) {
    for ((d, s), t) in d
        .chunks_exact_mut(BLOCK_SIZE)
        .zip(s.chunks_exact(BLOCK_SIZE))
        .zip(t)
    {
        for ((d, s), t) in d.iter_mut().zip(s).zip(t) {
            *d = s ^ t;
        }
    }
}

/// `d ⊕= t` block by block.
#[inline(always)]
fn xor_blocks_in_place(d: &mut [u8], t: &[[u8; BLOCK_SIZE]]) {
    for (d, t) in d.chunks_exact_mut(BLOCK_SIZE).zip(t) {
        for (d, t) in d.iter_mut().zip(t) {
            *d ^= t;
        }
    }
}

/// The pass, four steps per page: tweaks; `dst = src ⊕ T` (after the hook's `before` on each source
/// line); one multi-block cipher call on all the page's blocks; `dst ⊕= T` (then the hook's `after`).
/// Every XOR step is a straight loop over the page that the compiler vectorises, and the cipher runs
/// its eight-way parallel backend over the whole page.
fn run<C, H>(
    cipher: &C,
    dir: Direction,
    t0: u128,
    first: usize,
    src: Option<&[u8]>,
    dst: &mut [u8],
    hook: &mut H,
) -> Result<(), usize>
where
    C: BlockEncrypt + BlockDecrypt + BlockSizeUser<BlockSize = U16>,
    H: LineHook,
{
    let n = src.map_or(dst.len(), |s| s.len().min(dst.len())) / BLOCK_SIZE;
    if n <= SMALL {
        run_in::<SMALL, C, H>(cipher, dir, t0, first, src, dst, hook)
    } else {
        run_in::<ROUND, C, H>(cipher, dir, t0, first, src, dst, hook)
    }
}

/// [`run`] with a tweak buffer of `R` blocks.
#[inline(always)]
fn run_in<const R: usize, C, H>(
    cipher: &C,
    dir: Direction,
    t0: u128,
    first: usize,
    src: Option<&[u8]>,
    dst: &mut [u8],
    hook: &mut H,
) -> Result<(), usize>
where
    C: BlockEncrypt + BlockDecrypt + BlockSizeUser<BlockSize = U16>,
    H: LineHook,
{
    let n = src.map_or(dst.len(), |s| s.len().min(dst.len())) / BLOCK_SIZE;
    let mut tw = [[0u8; BLOCK_SIZE]; R];
    let mut t = mul_alpha_pow(t0, first);
    let mut done = 0;
    while done < n {
        let m = R.min(n - done);
        let tw = &mut tw[..m];
        t = tweaks(t, tw);
        let range = done * BLOCK_SIZE..(done + m) * BLOCK_SIZE;
        let d = &mut dst[range.clone()];
        let base = first + done;
        // The hook's `before` on every whole source line, then the whitening, each its own straight
        // loop (a hook inside the XOR loop keeps the compiler from vectorising it).
        {
            let s: &[u8] = match src {
                Some(s) => &s[range.clone()],
                None => d,
            };
            for (l, (s, t)) in s
                .chunks_exact(LINE)
                .zip(tw.chunks_exact(BLOCKS_PER_LINE))
                .enumerate()
            {
                let block = base + l * BLOCKS_PER_LINE;
                if !hook.before(block, s, u128::from_le_bytes(t[0])) {
                    return Err(block);
                }
            }
        }
        match src {
            Some(s) => xor_blocks(d, &s[range], tw),
            None => xor_blocks_in_place(d, tw),
        }
        let (blocks, _) = InOutBuf::from(&mut *d).into_chunks::<U16>();
        match dir {
            Direction::Encrypt => cipher.encrypt_blocks_inout(blocks),
            Direction::Decrypt => cipher.decrypt_blocks_inout(blocks),
        }
        xor_blocks_in_place(d, tw);
        for (l, (d, t)) in d
            .chunks_exact(LINE)
            .zip(tw.chunks_exact(BLOCKS_PER_LINE))
            .enumerate()
        {
            hook.after(base + l * BLOCKS_PER_LINE, d, u128::from_le_bytes(t[0]));
        }
        done += m;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::{Aes128, Aes256};
    use cipher::{Block, KeyInit};

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    /// The encrypted tweak of data unit `unit` (a 128-bit little-endian number).
    fn t0<C: BlockEncrypt + BlockSizeUser<BlockSize = U16>>(k2: &C, unit: u128) -> u128 {
        let mut b = Block::<C>::from(unit.to_le_bytes());
        k2.encrypt_block(&mut b);
        u128::from_le_bytes(b.into())
    }

    /// IEEE 1619-2018 Annex B, vector 4 (XTS-AES-128, data unit 0, 512 bytes 00..ff 00..ff). The
    /// ciphertext was produced by OpenSSL 3 through Python `cryptography` (`modes.XTS`); its first 32
    /// bytes are the ones IEEE 1619 prints.
    const VECTOR_4_CT: [&str; 16] = [
        "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c",
        "c78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412",
        "328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc512c8866c7e860ce",
        "93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad0265",
        "5ea92dc4c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8",
        "a750e8768defffed9122810aaeb99f9172af82b604dc4b8e51bcb08235a6f434",
        "1332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f1badd03c",
        "5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e",
        "94bff94effd01a91735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc",
        "1e08298516e2c9ed03ff3c1b7860f6de76d4cecd94c8119855ef5297ca67e9f3",
        "e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344",
        "b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd",
        "74d20cc39881c213ee770b1010e4bea718846977ae119f7a023ab58cca0ad752",
        "afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539edb609ef4f79c203e",
        "bb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18d",
        "eb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568",
    ];

    #[test]
    fn ieee1619_vector_4() {
        let k1 = Aes128::new_from_slice(&hex("27182818284590452353602874713526")).unwrap();
        let k2 = Aes128::new_from_slice(&hex("31415926535897932384626433832795")).unwrap();
        let pt: Vec<u8> = (0..512).map(|i| i as u8).collect();
        let want = hex(&VECTOR_4_CT.concat());
        let mut ct = vec![0u8; 512];
        xts(
            &k1,
            Direction::Encrypt,
            t0(&k2, 0),
            0,
            &pt,
            &mut ct,
            &mut NoHook,
        )
        .unwrap();
        assert_eq!(ct, want);
        let mut back = vec![0u8; 512];
        xts(
            &k1,
            Direction::Decrypt,
            t0(&k2, 0),
            0,
            &ct,
            &mut back,
            &mut NoHook,
        )
        .unwrap();
        assert_eq!(back, pt);
        xts_in_place(
            &k1,
            Direction::Encrypt,
            t0(&k2, 0),
            0,
            &mut back,
            &mut NoHook,
        )
        .unwrap();
        assert_eq!(back, want);
    }

    /// A range starting at block `first` gives the same bytes as those blocks of the whole unit, for
    /// any start and length (the group of eight and the tail paths agree), in place or not.
    #[test]
    fn ranges_agree_with_the_whole_unit() {
        let k = Aes256::new(&[9u8; 32].into());
        let t = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        let pt: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut whole = vec![0u8; 4096];
        xts(&k, Direction::Encrypt, t, 0, &pt, &mut whole, &mut NoHook).unwrap();
        for (first, n) in [
            (0, 1),
            (1, 7),
            (3, 9),
            (8, 8),
            (13, 31),
            (200, 56),
            (255, 1),
        ] {
            let r = first * 16..(first + n) * 16;
            let mut part = vec![0u8; n * 16];
            xts(
                &k,
                Direction::Encrypt,
                t,
                first,
                &pt[r.clone()],
                &mut part,
                &mut NoHook,
            )
            .unwrap();
            assert_eq!(part, whole[r.clone()], "first {first} n {n}");
            xts_in_place(&k, Direction::Decrypt, t, first, &mut part, &mut NoHook).unwrap();
            assert_eq!(part, pt[r], "first {first} n {n}");
        }
    }

    #[test]
    fn alpha_powers() {
        let t = 0x8000_0000_0000_0000_0000_0000_0000_0001u128;
        let mut s = t;
        for n in 0..40 {
            assert_eq!(mul_alpha_pow(t, n), s, "n {n}");
            s = mul_alpha(s);
        }
        assert_eq!(mul_alpha(t), 0x87 ^ 2);
        // The shortcuts against plain doubling, on values whose top bits vary.
        let doubled = |mut x: u128, n: usize| {
            for _ in 0..n {
                x = mul_alpha(x);
            }
            x
        };
        let mut x = 0xDEAD_BEEF_0123_4567_89AB_CDEF_F00D_CAFEu128;
        for _ in 0..50 {
            assert_eq!(mul_alpha8(x), doubled(x, 8));
            assert_eq!(mul_alpha64(x), doubled(x, 64));
            x = doubled(x, 13) ^ (x >> 7);
        }
    }

    /// The hook sees every whole line once, with the right tweak, and a refusal stops the pass.
    #[test]
    fn hook_sees_lines_and_can_stop() {
        struct Seen(Vec<(usize, u128, u8)>, usize);
        impl LineHook for Seen {
            fn before(&mut self, block: usize, src: &[u8], tweak: u128) -> bool {
                self.0.push((block, tweak, src[0]));
                block != self.1
            }
        }
        let k = Aes128::new(&[1u8; 16].into());
        let t = 77u128 << 64 | 5;
        let src: Vec<u8> = (0..40 * 16).map(|i| (i / 16) as u8).collect();
        let mut dst = vec![0u8; src.len()];
        let mut seen = Seen(Vec::new(), usize::MAX);
        xts(&k, Direction::Encrypt, t, 4, &src, &mut dst, &mut seen).unwrap();
        let want: Vec<_> = (0..10)
            .map(|l| (4 + 4 * l, mul_alpha_pow(t, 4 + 4 * l), (4 * l) as u8))
            .collect();
        assert_eq!(seen.0, want);
        let mut dst2 = vec![0u8; src.len()];
        let mut stop = Seen(Vec::new(), 16);
        assert_eq!(
            xts(&k, Direction::Encrypt, t, 4, &src, &mut dst2, &mut stop),
            Err(16)
        );
        // Nothing past the refused line is written.
        assert!(dst2[12 * 16..].iter().all(|&b| b == 0));
    }
}
