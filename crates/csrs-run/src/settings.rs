//! What a sampling run is given: which examples, how many draws, where its
//! records go, and the limits on the sizes it takes.

use std::path::PathBuf;

use anyhow::bail;
use csrs_artifacts::{Setting, Worded};
use csrs_stats::Alpha;

/// The most draws per input that n and n0 take each: 2³⁰, about 10⁹, the
/// most `csrs plan` considers ([`csrs_stats::plan::MAX_DRAWS`]). That is
/// ten thousand times a paper-scale certificate (10⁵ draws), some fifteen
/// hours per input at 20 000 samples/s, and n0 + n stays far from
/// overflowing the counters.
pub const MAX_DRAWS: u64 = csrs_stats::plan::MAX_DRAWS;

/// A number of draws per input (n0 or n): 1 to [`MAX_DRAWS`], checked
/// once, where a front end reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DrawCount(u64);

/// A number of draws that is not 1 to [`MAX_DRAWS`]; its text follows the
/// setting's name (`n 0, expected at least one draw`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawCountError {
    /// No draws.
    Zero,
    /// More than [`MAX_DRAWS`].
    TooMany(u64),
}

impl std::fmt::Display for DrawCountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrawCountError::Zero => write!(f, "0, expected at least one draw"),
            DrawCountError::TooMany(draws) => write!(f, "{draws}, expected at most {MAX_DRAWS} draws per input"),
        }
    }
}

impl std::error::Error for DrawCountError {}

impl DrawCount {
    /// `draws` draws per input.
    ///
    /// # Errors
    /// [`DrawCountError`] unless `1 <= draws <= MAX_DRAWS`.
    pub fn new(draws: u64) -> Result<Self, DrawCountError> {
        match draws {
            0 => Err(DrawCountError::Zero),
            1..=MAX_DRAWS => Ok(DrawCount(draws)),
            _ => Err(DrawCountError::TooMany(draws)),
        }
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The most noisy copies per forward pass: 2²⁰. The per-copy buffers
/// (noise, logits, predicted classes) grow with it, whatever the input's
/// size.
pub const MAX_BATCH: usize = 1 << 20;

/// The most bytes of noisy inputs one forward pass holds: the batch × the
/// input's values × 4 bytes (f32) at most 4 GiB, e.g. 7 133 copies of a
/// 3×224×224 image or 349 525 of a 3×32×32 one. The network's activations
/// come on top, so a device may hold fewer; this bounds what a mistyped
/// batch asks for before anything is allocated.
pub const MAX_BATCH_BYTES: u64 = 1 << 32;

/// Refuses a batch (`flag` names it in the message) above [`MAX_BATCH`]
/// copies, or above [`MAX_BATCH_BYTES`] of noisy copies of `input_len`
/// values each.
///
/// # Errors
/// A batch above either limit.
pub fn check_batch(flag: &str, batch: usize, input_len: usize) -> anyhow::Result<()> {
    if batch > MAX_BATCH {
        bail!("{flag} {batch}, expected at most {MAX_BATCH} noisy copies per forward pass");
    }
    let bytes = (batch as u64).saturating_mul(input_len as u64).saturating_mul(4);
    if bytes > MAX_BATCH_BYTES {
        bail!(
            "{flag} {batch} of {input_len}-value inputs needs {bytes} bytes of noisy copies, expected at most {MAX_BATCH_BYTES} ({flag} {} or fewer)",
            MAX_BATCH_BYTES / 4 / (input_len as u64).max(1)
        );
    }
    Ok(())
}

/// One k-th of the examples: those whose index is `index` modulo `count`,
/// with `index < count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Every example.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// Unless `index < count`.
    pub fn new(index: usize, count: usize) -> anyhow::Result<Self> {
        if index < count { Ok(Shard { index, count }) } else { Err(not_a_shard(format!("{index}/{count}"))) }
    }

    /// Which shard this is, from 0.
    pub fn index(self) -> usize {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether example `example` is in this shard.
    pub fn holds(self, example: usize) -> bool {
        example % self.count == self.index
    }
}

/// `i/k`, as `--shard` and settings files give it.
impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        let parsed = text.split_once('/').and_then(|(i, k)| Some((i.parse().ok()?, k.parse().ok()?)));
        match parsed {
            Some((index, count)) => Shard::new(index, count).map_err(|_| not_a_shard(format!("{text:?}"))),
            None => Err(not_a_shard(format!("{text:?}"))),
        }
    }
}

/// The error of a shard given as `shown`.
fn not_a_shard(shown: String) -> anyhow::Error {
    Worded::new(move |s| format!("{}, expected i/k with 0 <= i < k, e.g. 0/4", s.given(Setting::Shard, &shown))).into()
}

/// The settings of a sampling run that decide its examples, draws and
/// records (the noise, σ and model are the smoothed classifier's).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The records: `.tsv` or `.jsonl`.
    pub out: PathBuf,
    /// The failure probability of each certificate or prediction.
    pub alpha: Alpha,
    /// Estimation draws per input (with a stop rule, the most drawn).
    pub n: DrawCount,
    /// Noisy copies per forward pass.
    pub batch: usize,
    /// The seed of the noise: example i always gets the same noise for a seed.
    pub seed: u64,
    /// Every `skip`-th example (index divisible by it).
    pub skip: usize,
    /// The examples before this index.
    pub max: Option<usize>,
    /// The shard of the examples.
    pub shard: Shard,
    /// Continue the records at `out`, keeping what they hold.
    pub resume: bool,
    /// With `resume`, continue records without their settings, taking
    /// this run's as theirs.
    pub adopt_settings: bool,
    /// A line said at the start and kept as a comment in the settings
    /// file (where the shard came from).
    pub note: Option<String>,
}

impl RunSettings {
    /// The settings of a run into `out` of every example, n draws at
    /// level `alpha`, in batches of 1 000 copies, seed 0.
    pub fn new(out: PathBuf, alpha: Alpha, n: DrawCount) -> Self {
        RunSettings {
            out,
            alpha,
            n,
            batch: 1000,
            seed: 0,
            skip: 1,
            max: None,
            shard: Shard::ALL,
            resume: false,
            adopt_settings: false,
            note: None,
        }
    }

    /// The example indices of this run, in order, out of `len`.
    pub fn examples(&self, len: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.max.map_or(len, |max| max.min(len))).filter(|i| i % self.skip == 0).filter(|&i| self.shard.holds(i))
    }
}
