//! Gaussian noise on the 8-bit grid, drawn from integers: the smoothing noise
//! of certificates that hold in floating point (Voráček & Hein, "Sound
//! randomized smoothing in floating-point arithmetic", ICLR 2023).
//!
//! x + δ computed in floating point is not x shifted by a Gaussian, and a
//! certificate that assumes it is can be wrong. For an input x on the grid
//! of steps 1/255, rounding the noisy input to the grid gives
//! Round(x + δ) = x + Round(δ): the smoothed classifier of the fixed base
//! classifier f ∘ clip ∘ Round is computed exactly from the offsets
//! Round(δ)/h, h = 1/255, which take integer values with probabilities
//! p_m = Φ((m + ½)h/σ) − Φ((m − ½)h/σ). Cohen's radius σ Φ⁻¹(p̲) holds for it
//! as it is, since its noise is still N(0, σ²I).
//!
//! An offset is drawn from one uniform 64-bit word against integer
//! thresholds, so the only difference from the exact distribution is the
//! error of the thresholds, bounded by [`GridGaussian::draw_error`]. Offsets
//! beyond ±255 steps are clamped to ±255: from any grid point in [0, 1] both
//! move the pixel past the end of the range, where clip puts it at 0 or 1,
//! so the classifier sees the same input.

use crate::{Sigma, normal_cdf};

/// Steps of the grid in [0, 1]: values j/255, j = 0..=255.
pub const GRID_STEPS: u32 = 255;

/// The largest offset in grid steps: any larger one is clipped to the same
/// pixel value.
const MAX_OFFSET: i32 = GRID_STEPS as i32;

/// The thresholds between the 511 offsets.
const THRESHOLDS: usize = 2 * MAX_OFFSET as usize;

/// Bits of a word that index the guide table.
const GUIDE_BITS: u32 = 12;

/// How far a computed Φ may be from the true one: f64's Φ, and the rounding
/// of its argument, are within a few units of 2⁻⁵³ of it; this allows ten
/// times more. `tests/it/grid_noise.rs` checks every threshold of four σ
/// against 60-digit values.
pub const PHI_ERROR: f64 = 1e-15;

/// N(0, σ²) rounded to the grid of steps 1/255 and clamped to ±255 steps.
///
/// # Examples
/// ```
/// use csrs_stats::{GridGaussian, Sigma};
///
/// let noise = GridGaussian::new(Sigma::new(0.25)?);
/// assert_eq!(noise.offset(0), -255);
/// assert_eq!(noise.offset(u64::MAX / 2), 0); // the median
/// assert_eq!(noise.offset(u64::MAX), 255);
/// # Ok::<(), csrs_stats::StatsError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct GridGaussian {
    sigma: Sigma,
    /// Threshold i is ⌊2⁶⁴ Φ((i − 255 + ½)/(255σ))⌋ as computed, the upper
    /// end of offset i − 255.
    thresholds: Box<[u64; THRESHOLDS]>,
    /// Entry j is the number of thresholds below j · 2⁵²: where the search
    /// for a word with those top 12 bits starts (Chen and Asau's guide
    /// table), a step or two from its end but in the tails.
    guide: Box<[u16; 1 << GUIDE_BITS]>,
}

impl std::fmt::Debug for GridGaussian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridGaussian").field("sigma", &self.sigma).finish_non_exhaustive()
    }
}

impl GridGaussian {
    /// The noise of standard deviation σ (in units of the [0, 1] range).
    pub fn new(sigma: Sigma) -> Self {
        let mut thresholds = Box::new([0; THRESHOLDS]);
        let mut below = 0;
        for (slot, threshold) in thresholds.iter_mut().enumerate() {
            let edge = (f64::from(slot as i32 - MAX_OFFSET) + 0.5) / (f64::from(GRID_STEPS) * sigma.get());
            // Scaling by 2^64 is exact; the cast floors and saturates. The
            // running maximum keeps them in order without moving any
            // further from the true value than the largest error.
            *threshold = ((normal_cdf(edge) * 2f64.powi(64)) as u64).max(below);
            below = *threshold;
        }
        let mut guide = Box::new([0; 1 << GUIDE_BITS]);
        for (j, start) in guide.iter_mut().enumerate() {
            let cell = (j as u64) << (64 - GUIDE_BITS);
            *start = thresholds.partition_point(|&t| t < cell) as u16;
        }
        GridGaussian { sigma, thresholds, guide }
    }

    /// σ.
    pub fn sigma(&self) -> Sigma {
        self.sigma
    }

    /// The offset, in grid steps from −255 to 255, that the uniform 64-bit
    /// `word` draws: the number of thresholds at most `word`, less 255.
    #[inline(always)]
    pub fn offset(&self, word: u64) -> i32 {
        let mut below = usize::from(self.guide[(word >> (64 - GUIDE_BITS)) as usize]);
        while below < THRESHOLDS && self.thresholds[below] <= word {
            below += 1;
        }
        below as i32 - MAX_OFFSET
    }

    /// The thresholds between consecutive offsets, from the upper end of
    /// −255 to that of 254.
    pub fn thresholds(&self) -> &[u64] {
        &self.thresholds[..]
    }

    /// A bound on the total variation distance between `coordinates`
    /// independent offsets as drawn and as the exact distribution gives
    /// them: the most by which any event's probability, a class's among
    /// them, can differ between the two.
    ///
    /// Each threshold is within e = [`PHI_ERROR`] + 2⁻⁶⁴ of 2⁶⁴ times the true
    /// Φ, so each of the 511 probabilities is within 2e of the truth, one
    /// coordinate's distance is at most 511e, and `coordinates` of them
    /// drawn independently at most that many times more.
    pub fn draw_error(&self, coordinates: usize) -> f64 {
        let threshold_error = PHI_ERROR + 2f64.powi(-64);
        coordinates as f64 * f64::from(2 * MAX_OFFSET + 1) * threshold_error
    }
}

/// The grid index of a value: the nearest of j/255, j = 0..=255, with values
/// outside [0, 1] clipped to its ends.
///
/// # Examples
/// ```
/// use csrs_stats::grid_index;
/// assert_eq!(grid_index(0.0), 0);
/// assert_eq!(grid_index(128.0 / 255.0), 128);
/// assert_eq!(grid_index(0.5), 128); // 127.5 rounds up
/// assert_eq!(grid_index(1.7), 255);
/// ```
pub fn grid_index(value: f32) -> u8 {
    (f64::from(value) * f64::from(GRID_STEPS)).round().clamp(0.0, f64::from(GRID_STEPS)) as u8
}

/// The value of grid index j as the classifier receives it: j/255 in f32,
/// as 8-bit images are read.
pub fn grid_value(index: u8) -> f32 {
    f32::from(index) / GRID_STEPS as f32
}

/// The ℓ₂ distance from `input` to its nearest grid point (of
/// [`grid_index`]): what a certificate of the rounded input gives up when it
/// speaks of `input` itself. Zero for 8-bit images.
pub fn grid_distance(input: &[f32]) -> f64 {
    input.iter().map(|&value| (f64::from(value) - f64::from(grid_value(grid_index(value)))).powi(2)).sum::<f64>().sqrt()
}
