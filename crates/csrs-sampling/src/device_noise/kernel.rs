//! The device code: Philox4x32-10 and Box–Muller, one thread per Philox
//! output (four draws), in 32-bit integer arithmetic only (the high word of
//! a product from `mul_hi`, which cubecl lowers to a 64-bit product where
//! the device has one and to 16-bit limbs elsewhere: exact either way).

use cubecl::prelude::*;

/// Words per block in the blocks' table: seed (low, high), owner,
/// first row, rows.
pub(crate) const BLOCK_WORDS: usize = 5;

/// The four output words of one Philox4x32-10 call.
#[derive(CubeType, Clone, Copy)]
pub(crate) struct Words {
    x0: u32,
    x1: u32,
    x2: u32,
    x3: u32,
}

/// Philox4x32-10 of counter (`counter`, 0, 0, 0) under key (`key_lo`,
/// `key_hi`): the CPU's `philox_words` for one lane.
#[cube]
fn philox(counter: u32, key_lo: u32, key_hi: u32) -> Words {
    let mut c0 = counter;
    let mut c1 = 0u32;
    let mut c2 = 0u32;
    let mut c3 = 0u32;
    let mut k0 = key_lo;
    let mut k1 = key_hi;
    #[unroll]
    for _ in 0..10u32 {
        let hi0 = c0.mul_hi(0xD251_1F53u32);
        let lo0 = c0 * 0xD251_1F53u32;
        let hi1 = c2.mul_hi(0xCD9E_8D57u32);
        let lo1 = c2 * 0xCD9E_8D57u32;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E37_79B9u32;
        k1 += 0xBB67_AE85u32;
    }
    Words { x0: c0, x1: c1, x2: c2, x3: c3 }
}

/// Where one block's draws go: the rows of `output` from `out_at`, noisy
/// copies of the input at `base_at`, `len` values each, `draws` values in
/// all.
#[derive(CubeType, Clone, Copy)]
struct Place {
    draws: usize,
    len: usize,
    out_at: usize,
    base_at: usize,
}

/// Draws `d` (cosine) and `d + 1` (sine) of a block from words (`wu`,
/// `wv`), as the CPU forms them: u = ⌊wu/2⁸⌋·2⁻²⁴ + 2⁻²⁴ in (0, 1],
/// v = ⌊wv/2⁸⌋·2⁻²⁴ in [0, 1) (exact in f32, so bit-equal to the CPU's),
/// then √(−2 ln u)·(cos, sin)(2πv) with the device's functions (within a
/// few units in the last place of the CPU's). With `uniforms`, u and v
/// themselves are written, for the test against the CPU's streams.
#[cube]
fn write_pair(
    wu: u32,
    wv: u32,
    d: usize,
    place: Place,
    sigma: f32,
    base: &Tensor<f32>,
    output: &mut Tensor<f32>,
    #[comptime] uniforms: bool,
) {
    let step = 5.960_464_5e-8f32; // 2^-24
    let u = f32::cast_from(wu >> 8u32) * step + step;
    let v = f32::cast_from(wv >> 8u32) * step;
    if uniforms {
        if d < place.draws {
            output[place.out_at + d] = u;
        }
        if d + 1 < place.draws {
            output[place.out_at + d + 1] = v;
        }
    } else {
        // Clamped: a device's ln may give a tiny positive value at u = 1.
        let square = f32::ln(u) * -2.0f32;
        let radius = f32::sqrt(square.max(0.0f32));
        let angle = v * 6.283_185_5f32;
        if d < place.draws {
            output[place.out_at + d] = base[place.base_at + d % place.len] + sigma * (radius * f32::cos(angle));
        }
        if d + 1 < place.draws {
            let e = d + 1;
            output[place.out_at + e] = base[place.base_at + e % place.len] + sigma * (radius * f32::sin(angle));
        }
    }
}

/// `output[first row of b + r, i] = base[owner of b, i] + σ·z`, z draw
/// `r·len + i` of block b's stream, for every block b of `blocks`
/// ([`BLOCK_WORDS`] words each).
///
/// One row of cubes per block (grid y); along x the block's Philox
/// counters, in a grid-stride loop so that any block fits the 65 535
/// cubes a dimension allows.
// Device code takes the operations cubecl translates: no `div_ceil`.
#[allow(clippy::manual_div_ceil)]
#[cube(launch)]
pub(crate) fn noisy_copies(
    base: &Tensor<f32>,
    blocks: &Tensor<u32>,
    output: &mut Tensor<f32>,
    sigma: f32,
    #[comptime] uniforms: bool,
) {
    let at = CUBE_POS_Y as usize * 5; // BLOCK_WORDS
    let seed_lo = blocks[at];
    let seed_hi = blocks[at + 1];
    let len = output.shape(1);
    let rows = blocks[at + 4] as usize;
    let place =
        Place { draws: rows * len, len, out_at: blocks[at + 3] as usize * len, base_at: blocks[at + 2] as usize * len };
    let counters = (place.draws + 3) / 4;
    let stride = (CUBE_COUNT_X * CUBE_DIM_X) as usize;
    let mut counter = ABSOLUTE_POS_X as usize;
    while counter < counters {
        let words = philox(counter as u32, seed_lo, seed_hi);
        write_pair(words.x0, words.x1, counter * 4, place, sigma, base, output, uniforms);
        write_pair(words.x2, words.x3, counter * 4 + 2, place, sigma, base, output, uniforms);
        counter += stride;
    }
}
