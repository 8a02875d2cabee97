//! The smoothing noise, and how it is added to an input.

use csrs_stats::{GridGaussian, Sigma, grid_index};

/// The noise of the smoothed classifier, and how a noisy input is formed.
#[derive(Debug, Clone, PartialEq)]
pub enum Noise {
    /// x + δ, δ ~ N(0, σ²I), added in floating point: Cohen et al.'s
    /// noise, as the field draws it. Its certificates take the draws to be
    /// exactly Gaussian, which floating point does not give (Voráček & Hein
    /// 2023).
    Gaussian(Sigma),
    /// The input rounded to the 8-bit grid, plus δ rounded to the grid and
    /// drawn from integers ([`GridGaussian`]): the smoothing of the base
    /// classifier f ∘ clip ∘ Round, computed without floating-point error,
    /// so that its certificates hold as computed.
    Sound(GridGaussian),
}

impl From<Sigma> for Noise {
    fn from(sigma: Sigma) -> Self {
        Noise::Gaussian(sigma)
    }
}

impl Noise {
    /// σ.
    pub fn sigma(&self) -> Sigma {
        match self {
            Noise::Gaussian(sigma) => *sigma,
            Noise::Sound(grid) => grid.sigma(),
        }
    }

    /// By how much a class's probability under the noise as drawn, for
    /// inputs of `input_len` values, may differ from its probability under
    /// the smoothing noise: what each confidence bound is widened by. Zero
    /// for [`Noise::Gaussian`], whose draws are taken to be exact.
    pub fn slack(&self, input_len: usize) -> f64 {
        match self {
            Noise::Gaussian(_) => 0.0,
            Noise::Sound(grid) => grid.draw_error(input_len),
        }
    }

    /// `input` ready to have noise added to it: for sound noise, its grid
    /// indices, written into `grid`.
    pub(crate) fn base<'a>(&'a self, input: &'a [f32], grid: &'a mut Vec<u8>) -> Base<'a> {
        match self {
            Noise::Gaussian(sigma) => Base::Values { input, scale: sigma.get() as f32 },
            Noise::Sound(noise) => {
                grid.clear();
                grid.extend(input.iter().copied().map(grid_index));
                Base::Grid { input: grid, noise }
            }
        }
    }
}

/// An input and the noise to add to it, from which noisy copies are drawn
/// ([`crate::philox::draw_blocks`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Base<'a> {
    /// Values, plus `scale` × N(0, 1) in f32.
    Values { input: &'a [f32], scale: f32 },
    /// Grid indices, plus offsets drawn from `noise`, clipped to the grid.
    Grid { input: &'a [u8], noise: &'a GridGaussian },
}

impl Base<'_> {
    /// Values in one input.
    pub(crate) fn len(&self) -> usize {
        match self {
            Base::Values { input, .. } => input.len(),
            Base::Grid { input, .. } => input.len(),
        }
    }
}
