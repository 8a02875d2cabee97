//! `--shard auto`: the shard a job scheduler gives this process.

use anyhow::{anyhow, bail};
use csrs_run::Shard;

/// The shard a scheduler gives this process (`--shard auto`), and a line
/// saying where it came from. A Slurm job array's task is shard `SLURM_ARRAY_TASK_ID`
/// of `shards` when that is given, so that an array of some indices
/// (`--array=1,3`) reruns just those shards; without it, the array is
/// the whole run: its task counted from the first
/// (`SLURM_ARRAY_TASK_MIN`) of `SLURM_ARRAY_TASK_COUNT`. A Kubernetes
/// Indexed Job's completion index is shard `JOB_COMPLETION_INDEX` of
/// `shards`. `var` reads the environment.
///
/// # Errors
/// No shard in the environment, or one that is not a shard.
pub(crate) fn from_environment(
    shards: Option<usize>,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Shard, String)> {
    let number = |name: &str| -> anyhow::Result<Option<usize>> {
        var(name)
            .map(|text| text.trim().parse().map_err(|_| anyhow!("--shard auto: {name} is {text:?}, expected a number")))
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
                let count = shards.ok_or_else(|| anyhow!("--shard auto with JOB_COMPLETION_INDEX needs --shards K"))?;
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
    let shard = Shard::new(index, count).expect("index < count");
    Ok((shard, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--shard auto` under a fake environment.
    fn shard_from(shards: Option<usize>, vars: &[(&str, &str)]) -> anyhow::Result<(Shard, String)> {
        from_environment(shards, |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn shards_come_from_the_schedulers_environment() {
        // A Slurm array 1-4: task 3 is the third shard (index 2) of 4.
        let slurm = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        let (shard, source) = shard_from(None, &slurm).unwrap();
        assert_eq!(shard, Shard::new(2, 4).unwrap());
        assert_eq!(source, "SLURM_ARRAY_TASK_ID 3 of 4 from 1");
        // With --shards, the task id is the shard: an array of some
        // indices reruns those shards.
        let rerun = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")];
        let (shard, source) = shard_from(Some(4), &rerun).unwrap();
        assert_eq!(shard, Shard::new(3, 4).unwrap());
        assert_eq!(source, "SLURM_ARRAY_TASK_ID 3 of --shards 4");
        // Kubernetes gives the index only.
        let (shard, _) = shard_from(Some(5), &[("JOB_COMPLETION_INDEX", "4")]).unwrap();
        assert_eq!(shard, Shard::new(4, 5).unwrap());

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
