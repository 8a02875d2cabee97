//! Gaussian noise from a counter-based generator (Philox4x32-10, Salmon et
//! al. 2011): value j of a block seeded s is a function of (s, j) alone, so
//! any thread can draw any part of a batch straight into its buffer, with
//! no generator state to reseed or share.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds: 128 random bits from a 128-bit counter and a
/// 64-bit key.
pub(crate) fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for _ in 0..10 {
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        c = [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// Fills `out` with `scale` × N(0, 1) draws number `first`, `first` + 1, …
/// of the stream keyed by `seed`, added to `base[i % base.len()]`: noisy
/// copies of `base` written straight into a batch buffer.
///
/// Draws come four at a time (two Box–Muller pairs per Philox output), so
/// `first` must be a multiple of 4.
pub(crate) fn add_gaussian(seed: u64, first: u64, scale: f32, base: &[f32], out: &mut [f32]) {
    debug_assert!(first.is_multiple_of(4));
    let key = [seed as u32, (seed >> 32) as u32];
    let len = base.len();
    // Where draw `first` falls in the input, then one step per draw (no
    // division per value).
    let mut position = (first % len as u64) as usize;
    for (chunk_index, chunk) in out.chunks_mut(4).enumerate() {
        let index = first / 4 + chunk_index as u64;
        let bits = philox4x32([index as u32, (index >> 32) as u32, 0, 0], key);
        let normals = box_muller(bits);
        for (slot, normal) in chunk.iter_mut().zip(normals) {
            *slot = base[position] + scale * normal;
            position += 1;
            if position == len {
                position = 0;
            }
        }
    }
}

/// Four standard normal draws from 128 uniform bits.
fn box_muller(bits: [u32; 4]) -> [f32; 4] {
    // 24-bit uniforms: u in (0, 1] for the logarithm, v in [0, 1).
    let unit = |x: u32| (x >> 8) as f32 * (1.0 / 16_777_216.0);
    let mut out = [0.0; 4];
    for pair in 0..2 {
        let u = unit(bits[2 * pair]) + 1.0 / 16_777_216.0;
        let v = unit(bits[2 * pair + 1]);
        let radius = (-2.0 * u.ln()).sqrt();
        let (sin, cos) = (std::f32::consts::TAU * v).sin_cos();
        out[2 * pair] = radius * cos;
        out[2 * pair + 1] = radius * sin;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
