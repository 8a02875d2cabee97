//! What a sampling run is given: which examples, how many draws, where its
//! records go, and the limits on the sizes it takes.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use csrs_stats::Alpha;

/// The most draws per input that n and n0 take each: 2³⁰, about 10⁹, the
/// most `csrs plan` considers ([`csrs_stats::plan::MAX_DRAWS`]). That is
/// ten thousand times a paper-scale certificate (10⁵ draws), some fifteen
/// hours per input at 20 000 samples/s, and n0 + n stays far from
/// overflowing the counters.
pub const MAX_DRAWS: u64 = csrs_stats::plan::MAX_DRAWS;

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

/// One k-th of the examples: those with index % count == index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Every example.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// The shard a scheduler gives this process, and a line saying where it
    /// came from. A Slurm job array's task is shard `SLURM_ARRAY_TASK_ID`
    /// of `shards` when that is given, so that an array of some indices
    /// (`--array=1,3`) reruns just those shards; without it, the array is
    /// the whole run: its task counted from the first
    /// (`SLURM_ARRAY_TASK_MIN`) of `SLURM_ARRAY_TASK_COUNT`. A Kubernetes
    /// Indexed Job's completion index is shard `JOB_COMPLETION_INDEX` of
    /// `shards`. `var` reads the environment.
    ///
    /// # Errors
    /// No shard in the environment, or one that is not a shard.
    pub fn from_environment(
        shards: Option<usize>,
        var: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<(Shard, String)> {
        let number = |name: &str| -> anyhow::Result<Option<usize>> {
            var(name)
                .map(|text| {
                    text.trim().parse().map_err(|_| anyhow!("--shard auto: {name} is {text:?}, expected a number"))
                })
                .transpose()
        };
        let required = |name: &str| number(name)?.ok_or_else(|| anyhow!("--shard auto: {name} is not set"));
        let (index, count, source) = match (number("SLURM_ARRAY_TASK_ID")?, shards) {
            (Some(task), Some(count)) => (task, count, format!("SLURM_ARRAY_TASK_ID {task} of --shards {count}")),
            (Some(task), None) => {
                let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                let count = required("SLURM_ARRAY_TASK_COUNT")?;
                let index = task.checked_sub(first).ok_or_else(|| {
                    anyhow!("--shard auto: SLURM_ARRAY_TASK_ID {task} is below SLURM_ARRAY_TASK_MIN {first}")
                })?;
                (index, count, format!("SLURM_ARRAY_TASK_ID {task} of {count} from {first}"))
            }
            (None, _) => match number("JOB_COMPLETION_INDEX")? {
                Some(index) => {
                    let count =
                        shards.ok_or_else(|| anyhow!("--shard auto with JOB_COMPLETION_INDEX needs --shards K"))?;
                    (index, count, format!("JOB_COMPLETION_INDEX {index} of --shards {count}"))
                }
                None => bail!(
                    "--shard auto: no shard in the environment (SLURM_ARRAY_TASK_ID of a Slurm job array, or JOB_COMPLETION_INDEX of a Kubernetes Indexed Job with --shards K)"
                ),
            },
        };
        if index >= count {
            bail!("--shard auto: shard {index} of {count} ({source}), expected fewer than {count}");
        }
        Ok((Shard { index, count }, source))
    }
}

impl std::str::FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        let parsed = text.split_once('/').and_then(|(i, k)| Some((i.parse().ok()?, k.parse().ok()?)));
        match parsed {
            Some((index, count)) if index < count => Ok(Shard { index, count }),
            _ => bail!("--shard {text:?}, expected i/k with 0 <= i < k, e.g. 0/4"),
        }
    }
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
    pub n: u64,
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
    pub fn new(out: PathBuf, alpha: Alpha, n: u64) -> Self {
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
        (0..self.max.map_or(len, |max| max.min(len)))
            .filter(|i| i % self.skip == 0)
            .filter(|i| i % self.shard.count == self.shard.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--shard auto` under a fake environment.
    fn shard_from(shards: Option<usize>, vars: &[(&str, &str)]) -> anyhow::Result<(Shard, String)> {
        Shard::from_environment(shards, |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn shards_come_from_the_schedulers_environment() {
        // A Slurm array 1-4: task 3 is the third shard (index 2) of 4.
        let slurm = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        let (shard, source) = shard_from(None, &slurm).unwrap();
        assert_eq!(shard, Shard { index: 2, count: 4 });
        assert_eq!(source, "SLURM_ARRAY_TASK_ID 3 of 4 from 1");
        // With --shards, the task id is the shard: an array of some
        // indices reruns those shards.
        let rerun = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")];
        let (shard, source) = shard_from(Some(4), &rerun).unwrap();
        assert_eq!(shard, Shard { index: 3, count: 4 });
        assert_eq!(source, "SLURM_ARRAY_TASK_ID 3 of --shards 4");
        // Kubernetes gives the index only.
        let (shard, _) = shard_from(Some(5), &[("JOB_COMPLETION_INDEX", "4")]).unwrap();
        assert_eq!(shard, Shard { index: 4, count: 5 });

        for (shards, vars, message) in [
            (None, &[][..], "--shard auto: no shard in the environment"),
            (None, &[("JOB_COMPLETION_INDEX", "0")][..], "needs --shards K"),
            (Some(2), &[("JOB_COMPLETION_INDEX", "2")][..], "shard 2 of 2 (JOB_COMPLETION_INDEX 2 of --shards 2)"),
            (None, &[("SLURM_ARRAY_TASK_ID", "1")][..], "SLURM_ARRAY_TASK_COUNT is not set"),
            (Some(3), &[("SLURM_ARRAY_TASK_ID", "3")][..], "shard 3 of 3 (SLURM_ARRAY_TASK_ID 3 of --shards 3)"),
            (None, &[("SLURM_ARRAY_TASK_ID", "x")][..], "SLURM_ARRAY_TASK_ID is \"x\", expected a number"),
            (
                None,
                &[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")][..],
                "SLURM_ARRAY_TASK_ID 0 is below SLURM_ARRAY_TASK_MIN 1",
            ),
        ] {
            let err = format!("{:#}", shard_from(shards, vars).unwrap_err());
            assert!(err.contains(message), "{err}");
        }
    }
}
