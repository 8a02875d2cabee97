//! The smoothing noise, and how it is added to an input.

use csrs_stats::{GridGaussian, Sigma, Smoothing, grid_index};
use serde::{Deserialize, Serialize};

use crate::{Draws, Result, SamplingError};

/// Which noise a run smooths with: `gaussian` or `sound` in configs and on
/// the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum NoiseKind {
    /// [`Noise::Gaussian`].
    #[default]
    Gaussian,
    /// [`Noise::Sound`].
    Sound,
}

impl NoiseKind {
    /// This kind of noise, drawing from `smoothing`.
    pub fn for_smoothing(self, smoothing: Smoothing) -> Noise {
        match (self, smoothing) {
            (NoiseKind::Gaussian, Smoothing::Gaussian(sigma)) => Noise::Gaussian(sigma),
            (NoiseKind::Sound, Smoothing::Gaussian(sigma)) => Noise::Sound(GridGaussian::new(sigma)),
        }
    }

    /// The name in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            NoiseKind::Gaussian => "gaussian",
            NoiseKind::Sound => "sound",
        }
    }
}

impl std::str::FromStr for NoiseKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        [NoiseKind::Gaussian, NoiseKind::Sound]
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| format!("unknown noise {text:?}, expected gaussian or sound"))
    }
}

/// Read through [`FromStr`](std::str::FromStr), so that a wrong value is
/// named with the choices.
impl TryFrom<String> for NoiseKind {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::fmt::Display for NoiseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The smoothing this noise draws from, which its certificates are for
    /// (the sound noise's draws within [`Noise::slack`] of it).
    pub fn smoothing(&self) -> Smoothing {
        match self {
            Noise::Gaussian(sigma) => Smoothing::Gaussian(*sigma),
            Noise::Sound(grid) => Smoothing::Gaussian(grid.sigma()),
        }
    }

    /// σ.
    pub fn sigma(&self) -> Sigma {
        self.smoothing().sigma()
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

    /// Each input of `draws` ready to have noise added to it ([`Noise::base`]),
    /// with `grids` as the buffers of their grid indices.
    ///
    /// # Errors
    /// An input that is not `len` values long.
    pub(crate) fn bases<'a>(
        &'a self,
        draws: &[Draws<'a>],
        len: usize,
        grids: &'a mut Vec<Vec<u8>>,
    ) -> Result<Vec<Base<'a>>> {
        if let Some(wrong) = draws.iter().find(|d| d.input.len() != len) {
            return Err(SamplingError::InputSize { got: wrong.input.len(), expected: len });
        }
        grids.resize_with(draws.len().max(grids.len()), Vec::new);
        Ok(draws.iter().zip(grids).map(|(d, grid)| self.base(d.input, grid)).collect())
    }

    /// `input` ready to have noise added to it: for sound noise, its grid
    /// indices, written into `grid`.
    fn base<'a>(&'a self, input: &'a [f32], grid: &'a mut Vec<u8>) -> Base<'a> {
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
/// ([`crate::philox::draw_batch`]).
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
