//! Noise from a counter-based generator (Philox4x32-10, Salmon et al.
//! 2011): value j of a block seeded s is a function of (s, j) alone, so any
//! thread can draw any part of a batch straight into its buffer, with no
//! generator state to reseed or share. Gaussian noise in f32, or offsets on
//! the 8-bit grid from 64-bit words ([`GridGaussian`]).

use csrs_stats::{GRID_STEPS, GridGaussian, grid_value};

use crate::noise::Base;
use crate::{BLOCK, Draws, NoiseStream, Phase};

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox blocks computed together, in arrays one value per block, so that
/// their rounds and the Gaussian transform vectorise.
pub(crate) const LANES: usize = 16;

/// One Philox4x32 round.
#[inline(always)]
fn round(c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let p0 = u64::from(M0) * u64::from(c[0]);
    let p1 = u64::from(M1) * u64::from(c[2]);
    [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32]
}

/// The key of the round after.
#[inline(always)]
fn bump(k: [u32; 2]) -> [u32; 2] {
    [k[0].wrapping_add(W0), k[1].wrapping_add(W1)]
}

/// Writes draws `first..` of block `block` of a phase's `n` draws, noisy
/// copies of `base`, into `out` (as many draws as it holds): the stream
/// keyed by the block's seed ([`NoiseStream::block_seed`]) from draw
/// `first` (a multiple of 4, so that a part starts on a whole Philox output).
fn draw_block(
    base: Base<'_>,
    n: u64,
    (stream, phase): (NoiseStream, Phase),
    block: u64,
    first: usize,
    out: &mut [f32],
) {
    debug_assert!(first.is_multiple_of(4));
    debug_assert!(first * base.len() + out.len() <= block_draws(n, block) * base.len());
    let seed = stream.block_seed(phase, block);
    let first = (first * base.len()) as u64;
    match base {
        Base::Values { input, scale } => add_gaussian(seed, first, scale, input, out),
        Base::Grid { input, noise } => add_grid_offsets(seed, first, noise, input, out),
    }
}

/// Draws in block `block` of a phase's `n` draws: [`BLOCK`], or what is
/// left for the last.
fn block_draws(n: u64, block: u64) -> usize {
    BLOCK.min(n - block * BLOCK) as usize
}

/// Block `index` of the draws of input `input` of a
/// [`ClassCounter::count_each`](crate::ClassCounter::count_each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) input: usize,
    pub(crate) index: u64,
}

impl Block {
    /// Every block of every input, input by input: what counters cut into
    /// batches, so that the last blocks of one input share a batch with the
    /// first of the next.
    pub(crate) fn all(draws: &[Draws<'_>]) -> Vec<Block> {
        draws
            .iter()
            .enumerate()
            .flat_map(|(input, d)| (0..d.n.div_ceil(BLOCK)).map(move |index| Block { input, index }))
            .collect()
    }

    /// The draws in this block.
    pub(crate) fn size(self, draws: &[Draws<'_>]) -> usize {
        block_draws(draws[self.input].n, self.index)
    }
}

/// Draws `first..first + len` of a block: a block, or the part of one that
/// falls to one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) block: Block,
    pub(crate) first: usize,
    pub(crate) len: usize,
}

impl Part {
    /// Each of `blocks`, whole.
    pub(crate) fn whole(blocks: &[Block], draws: &[Draws<'_>]) -> Vec<Part> {
        blocks.iter().map(|&block| Part { block, first: 0, len: block.size(draws) }).collect()
    }

    /// The draws of `blocks`, one after the other, cut into `n` shares of
    /// nearly equal size (each cut on a multiple of 4 draws into its
    /// block): every worker has work even when a batch holds fewer blocks
    /// than there are workers.
    #[cfg(feature = "models")]
    pub(crate) fn shares(blocks: &[Block], draws: &[Draws<'_>], n: usize) -> Vec<Vec<Part>> {
        let total: usize = blocks.iter().map(|block| block.size(draws)).sum();
        let quota = total.div_ceil(n).next_multiple_of(4);
        let mut shares = vec![Vec::new(); n];
        let (mut share, mut room) = (0, quota);
        for &block in blocks {
            let (mut first, size) = (0, block.size(draws));
            while first < size {
                let last = share + 1 == n;
                let mut len = size - first;
                if !last && len > room {
                    len = room / 4 * 4;
                }
                if len > 0 {
                    shares[share].push(Part { block, first, len });
                    (first, room) = (first + len, room.saturating_sub(len));
                }
                // The rest of the block does not fit: the next share.
                if !last && first < size && size - first > room {
                    (share, room) = (share + 1, quota);
                }
            }
        }
        shares
    }
}

/// Writes `parts`, noisy copies of their inputs (`bases`, one per entry of
/// `draws`), into `out` one after the other ([`draw_block`] each).
pub(crate) fn draw_batch(bases: &[Base<'_>], draws: &[Draws<'_>], parts: &[Part], out: &mut [f32]) {
    let mut at = 0;
    for part in parts {
        let (d, base) = (&draws[part.block.input], bases[part.block.input]);
        let end = at + part.len * base.len();
        draw_block(base, d.n, (d.stream, d.phase), part.block.index, part.first, &mut out[at..end]);
        at = end;
    }
}

/// Fills `out` with `scale` × N(0, 1) draws number `first`, `first` + 1, …
/// of the stream keyed by `seed`, added to `base[i % base.len()]`: noisy
/// copies of `base` written straight into a batch buffer.
///
/// Draws come four at a time (two Box–Muller pairs per Philox output), so
/// `first` must be a multiple of 4.
pub(crate) fn add_gaussian(seed: u64, first: u64, scale: f32, base: &[f32], out: &mut [f32]) {
    debug_assert!(first.is_multiple_of(4));
    pulp::Arch::new().dispatch(AddGaussian { seed, first, scale, base, out });
}

/// [`add_gaussian`]'s work, run under [`pulp::Arch::dispatch`] so that the
/// arithmetic, inlined into it, is compiled for the processor's widest
/// vector instructions. (A closure would be compiled apart, for the
/// baseline.)
struct AddGaussian<'a> {
    seed: u64,
    first: u64,
    scale: f32,
    base: &'a [f32],
    out: &'a mut [f32],
}

impl pulp::WithSimd for AddGaussian<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let AddGaussian { seed, first, scale, base, out } = self;
        let key = [seed as u32, (seed >> 32) as u32];
        let len = base.len();
        // Where draw `first` falls in the input, then one step per draw (no
        // division per value).
        let mut position = (first % len as u64) as usize;
        for (chunk_index, chunk) in out.chunks_mut(4 * LANES).enumerate() {
            let normals = normals(first / 4 + (chunk_index * LANES) as u64, key);
            for (slot, normal) in chunk.iter_mut().zip(normals) {
                *slot = base[position] + scale * normal;
                position += 1;
                if position == len {
                    position = 0;
                }
            }
        }
    }
}

/// Fills `out` with noisy copies of the grid input `base` (indices j, the
/// values j/255), one after the other: value i is the grid point
/// `base[i % base.len()]` moved by the offset that `noise` draws from 64-bit
/// word number `first` + i of the stream keyed by `seed`, clipped to the
/// grid, as f32 ([`grid_value`]). The sum is formed in integers, so no
/// floating-point rounding enters the noise.
///
/// Each Philox output gives two words (bits 0, 1 and bits 2, 3), so
/// `first` must be even.
pub(crate) fn add_grid_offsets(seed: u64, first: u64, noise: &GridGaussian, base: &[u8], out: &mut [f32]) {
    debug_assert!(first.is_multiple_of(2));
    let key = [seed as u32, (seed >> 32) as u32];
    let values: [f32; 256] = std::array::from_fn(|index| grid_value(index as u8));
    let len = base.len();
    let mut position = (first % len as u64) as usize;
    for (chunk_index, chunk) in out.chunks_mut(2 * LANES).enumerate() {
        let words = philox_words(first / 2 + (chunk_index * LANES) as u64, key);
        let word = |slot: usize| {
            let (lane, pair) = (slot / 2, slot % 2);
            u64::from(words[2 * pair][lane]) << 32 | u64::from(words[2 * pair + 1][lane])
        };
        for (slot, value) in chunk.iter_mut().enumerate() {
            let index = (i32::from(base[position]) + noise.offset(word(slot))).clamp(0, GRID_STEPS as i32);
            *value = values[index as usize];
            position += 1;
            if position == len {
                position = 0;
            }
        }
    }
}

/// Philox4x32-10 of counters `block`, `block + 1`, … (`LANES` of them)
/// keyed by `key`: word w of lane l is `words[w][l]`.
#[inline(always)]
pub(crate) fn philox_words(block: u64, key: [u32; 2]) -> [[u32; LANES]; 4] {
    let counter = |lane: usize| block + lane as u64;
    let mut words = [
        std::array::from_fn(|lane| counter(lane) as u32),
        std::array::from_fn(|lane| (counter(lane) >> 32) as u32),
        [0u32; LANES],
        [0u32; LANES],
    ];
    let mut k = key;
    for _ in 0..10 {
        for lane in 0..LANES {
            let c = round([words[0][lane], words[1][lane], words[2][lane], words[3][lane]], k);
            for (word, value) in words.iter_mut().zip(c) {
                word[lane] = value;
            }
        }
        k = bump(k);
    }
    words
}

/// Draws `4 · block` to `4 · (block + LANES)` of the stream keyed by `key`:
/// the Philox outputs of counters `block`, `block + 1`, …, each turned into
/// four standard normals by two Box–Muller pairs, (bits 0, 1) and (bits 2,
/// 3).
#[inline(always)]
fn normals(block: u64, key: [u32; 2]) -> [f32; 4 * LANES] {
    let words = philox_words(block, key);
    // 24-bit uniforms: u in (0, 1] for the logarithm, v in [0, 1).
    let unit = |x: u32| (x >> 8) as f32 * (1.0 / 16_777_216.0);
    let mut out = [0.0; 4 * LANES];
    for pair in 0..2 {
        for lane in 0..LANES {
            let u = unit(words[2 * pair][lane]) + 1.0 / 16_777_216.0;
            let radius = (-2.0 * ln(u)).sqrt();
            let (sin, cos) = sin_cos_turns(unit(words[2 * pair + 1][lane]));
            out[4 * lane + 2 * pair] = radius * cos;
            out[4 * lane + 2 * pair + 1] = radius * sin;
        }
    }
    out
}

/// The natural logarithm of a positive normal `x`, within a few units in
/// the last place: x = m · 2^e with m in [√½, √2), and ln m = 2 atanh(s),
/// s = (m − 1)/(m + 1), |s| ≤ 0.172, by its series to s¹¹ (the next term is
/// below 2⁻³³). Branch-free, so that it vectorises; libm's `logf` is a call
/// per value.
#[inline(always)]
fn ln(x: f32) -> f32 {
    // ln 2 split as in fdlibm: LN_2_HI has its low bits zero, so e · LN_2_HI
    // is exact.
    const LN_2_HI: f32 = f32::from_bits(0x3f31_7180);
    const LN_2_LO: f32 = f32::from_bits(0x3717_f7d1);
    let bits = x.to_bits();
    let mantissa = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = mantissa > std::f32::consts::SQRT_2;
    let m = if big { 0.5 * mantissa } else { mantissa };
    let e = ((bits >> 23) as i32 - 127 + i32::from(big)) as f32;
    let s = (m - 1.0) / (m + 1.0);
    let ln_m = 2.0 * s * horner(s * s, 1.0 / 11.0, [1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0]);
    e.mul_add(LN_2_HI, e.mul_add(LN_2_LO, ln_m))
}

/// The polynomial in `x` with coefficients `highest`, then `rest`, from the
/// highest power down, by Horner's rule with fused multiply-adds.
#[inline(always)]
fn horner<const N: usize>(x: f32, highest: f32, rest: [f32; N]) -> f32 {
    rest.into_iter().fold(highest, |acc, c| x.mul_add(acc, c))
}

/// (sin 2πv, cos 2πv) for v in [0, 1), within a few units in the last
/// place: the quadrant from 4v (exact for v on the 2⁻²⁴ grid), then the
/// Taylor series of sin and cos on [0, π/2) to θ¹³ and θ¹⁴ (next terms below
/// 10⁻⁹). Branch-free, so that it vectorises.
#[inline(always)]
fn sin_cos_turns(v: f32) -> (f32, f32) {
    let quarters = 4.0 * v;
    let quadrant = quarters as i32; // 0..=3
    let theta = (quarters - quadrant as f32) * std::f32::consts::FRAC_PI_2;
    let t2 = theta * theta;
    // sin θ / θ = 1 − θ²/3! + … + θ¹²/13!, cos θ = 1 − θ²/2! + … − θ¹⁴/14!.
    let sin = horner(
        t2,
        1.0 / 6_227_020_800.0,
        [-1.0 / 39_916_800.0, 1.0 / 362_880.0, -1.0 / 5_040.0, 1.0 / 120.0, -1.0 / 6.0, 1.0],
    );
    let cos = horner(
        t2,
        -1.0 / 87_178_291_200.0,
        [1.0 / 479_001_600.0, -1.0 / 3_628_800.0, 1.0 / 40_320.0, -1.0 / 720.0, 1.0 / 24.0, -1.0 / 2.0, 1.0],
    );
    let (sin, cos) = (sin * theta, cos);
    // 2πv = quadrant · π/2 + θ.
    let (sin, cos) = if quadrant & 1 == 1 { (cos, -sin) } else { (sin, cos) };
    if quadrant & 2 == 2 { (-sin, -cos) } else { (sin, cos) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Philox4x32-10 of one counter.
    fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
        let (mut c, mut k) = (counter, key);
        for _ in 0..10 {
            c = round(c, k);
            k = bump(k);
        }
        c
    }

    #[test]
    fn the_blocks_computed_together_are_philox_of_their_counters() {
        let key = [0xa409_3822, 0x299f_31d0];
        // Counters that carry into the high word.
        let block = u64::from(u32::MAX) - 5;
        let normals = normals(block, key);
        for lane in 0..LANES {
            let counter = block + lane as u64;
            let bits = philox4x32([counter as u32, (counter >> 32) as u32, 0, 0], key);
            let unit = |x: u32| f64::from(x >> 8) / 16_777_216.0;
            for pair in 0..2 {
                let u = unit(bits[2 * pair]) + 1.0 / 16_777_216.0;
                let angle = std::f64::consts::TAU * unit(bits[2 * pair + 1]);
                let radius = (-2.0 * u.ln()).sqrt();
                let expected = [radius * angle.cos(), radius * angle.sin()];
                for (got, expected) in normals[4 * lane + 2 * pair..][..2].iter().zip(expected) {
                    assert!((f64::from(*got) - expected).abs() < 2e-6, "lane {lane}: {got} vs {expected}");
                }
            }
        }
    }

    #[test]
    fn logarithm_and_sine_are_accurate_on_the_uniform_grid() {
        // Every 97th point of the 2^-24 grid, and its ends.
        let grid = (1..=1u32 << 24).step_by(97).chain([1, 2, 3, (1 << 24) - 1, 1 << 24]);
        for k in grid {
            let x = k as f32 / 16_777_216.0;
            let exact = f64::from(x).ln();
            let error = (f64::from(ln(x)) - exact).abs();
            assert!(error <= 2.0 * f64::from(f32::EPSILON) * exact.abs().max(1e-30), "ln({x}): error {error}");
            if k < 1 << 24 {
                let (sin, cos) = sin_cos_turns(x);
                let angle = std::f64::consts::TAU * f64::from(x);
                assert!((f64::from(sin) - angle.sin()).abs() < 3e-7, "sin 2π·{x}");
                assert!((f64::from(cos) - angle.cos()).abs() < 3e-7, "cos 2π·{x}");
            }
        }
    }

    #[test]
    fn philox_matches_the_published_known_answers() {
        // Random123's kat_vectors for philox4x32_10.
        assert_eq!(philox4x32([0; 4], [0; 2]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
        assert_eq!(philox4x32([u32::MAX; 4], [u32::MAX; 2]), [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]);
        assert_eq!(
            philox4x32([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0]),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn draws_are_standard_normal_and_depend_only_on_seed_and_index() {
        let n = 1 << 20;
        let mut draws = vec![0.0; n];
        add_gaussian(42, 0, 1.0, &[0.0], &mut draws);
        let mean = draws.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        let var = draws.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        // The tails: P(|Z| > 3) = 0.0027.
        let tail = draws.iter().filter(|x| x.abs() > 3.0).count() as f64 / n as f64;
        assert!((tail - 0.0027).abs() < 0.0005, "tail {tail}");

        // Any part of the stream, drawn alone, is the same.
        let mut part = vec![0.0; 100];
        add_gaussian(42, 4000, 1.0, &[0.0], &mut part);
        assert_eq!(part, draws[4000..4100]);
        let mut other_seed = vec![0.0; 100];
        add_gaussian(43, 4000, 1.0, &[0.0], &mut other_seed);
        assert_ne!(part, other_seed);

        // Scaled and added to a repeated base.
        let mut noisy = vec![0.0; 8];
        add_gaussian(42, 0, 0.5, &[10.0, 20.0], &mut noisy);
        for (i, v) in noisy.iter().enumerate() {
            let base = if i % 2 == 0 { 10.0 } else { 20.0 };
            assert!((v - (base + 0.5 * draws[i])).abs() < 1e-5);
        }
    }

    #[test]
    fn grid_copies_move_each_value_by_the_offset_its_word_draws() {
        let noise = GridGaussian::new(csrs_stats::Sigma::new(0.5).unwrap());
        let base = [0u8, 17, 128, 250, 255];
        let mut copies = vec![0.0; 5 * 41];
        add_grid_offsets(9, 0, &noise, &base, &mut copies);
        let key = [9, 0];
        for (i, &value) in copies.iter().enumerate() {
            let bits = philox4x32([(i / 2) as u32, 0, 0, 0], key);
            let word = u64::from(bits[2 * (i % 2)]) << 32 | u64::from(bits[2 * (i % 2) + 1]);
            let index = (i32::from(base[i % 5]) + noise.offset(word)).clamp(0, 255);
            assert_eq!(value, grid_value(index as u8), "value {i}");
        }
        // Clipped at both ends (σ = 0.5 is 127 steps), and moved in between.
        assert!(copies.contains(&0.0) && copies.contains(&1.0));
        assert!(copies.iter().zip(base.iter().cycle()).any(|(&v, &b)| v != grid_value(b)));

        // Any even-aligned part of the stream, drawn alone, is the same.
        let mut part = vec![0.0; 30];
        add_grid_offsets(9, 40, &noise, &base, &mut part);
        assert_eq!(part, copies[40..70]);
    }

    /// Shares cover every draw of every block once, in order, cut on
    /// multiples of 4 into a block, no share above the quota but the last;
    /// one block goes to two workers.
    #[cfg(feature = "models")]
    #[test]
    fn shares_cut_the_draws_evenly_on_whole_philox_outputs() {
        let stream = NoiseStream::new(3, 0);
        let draws = [
            Draws { input: &[], n: 250, stream, phase: Phase::Estimation },
            Draws { input: &[], n: 130, stream, phase: Phase::Estimation },
        ];
        let blocks = Block::all(&draws);
        for n in 1..=5 {
            let shares = Part::shares(&blocks, &draws, n);
            assert_eq!(shares.len(), n);
            let quota = 380usize.div_ceil(n).next_multiple_of(4);
            let mut expected = blocks.iter().flat_map(|&block| (0..block.size(&draws)).map(move |j| (block, j)));
            for (i, share) in shares.iter().enumerate() {
                let size: usize = share.iter().map(|part| part.len).sum();
                assert!(i + 1 == n || size <= quota, "{n} workers: share {i} holds {size}, quota {quota}");
                for part in share {
                    assert!(part.first.is_multiple_of(4) && part.len > 0, "{part:?}");
                    for j in part.first..part.first + part.len {
                        assert_eq!(expected.next(), Some((part.block, j)));
                    }
                }
            }
            assert_eq!(expected.next(), None);
        }
        let one = [Block { input: 0, index: 0 }];
        let halves: Vec<usize> = Part::shares(&one, &draws, 2).iter().map(|share| share[0].len).collect();
        assert_eq!(halves, [52, 48]);
    }
}
