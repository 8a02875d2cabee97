//! What a training run does, as read from `configs/train/*.toml`.

use csrs_sampling::NoiseKind;
use serde::{Deserialize, Serialize};

/// The training objective (SPEC §5), with its own hyperparameters only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum Objective {
    /// Cross-entropy on one noisy copy (Cohen et al.).
    Gaussian {
        /// Extra weight on sensitive examples (gaussian-cs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_sensitive: Option<Reweighting>,
    },
    /// MACER (Zhai et al.): cross-entropy of the soft smoothed classifier
    /// plus a hinge on its certified radius.
    Macer {
        /// Noisy copies k per example.
        noise_copies: usize,
        /// Inverse temperature β of the soft smoothed classifier.
        beta: f64,
        /// Weight λ of the robustness term.
        lambda: f64,
        /// Hinge margin γ (γ₂, on normal examples, for macer-cs).
        gamma: f64,
        /// The paper's cost-sensitive MACER (macer-cs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_sensitive: Option<MacerSensitive>,
    },
    /// SmoothAdv (Salman et al.): train on ℓ₂-PGD points of the soft
    /// smoothed classifier.
    SmoothAdv {
        /// Noise draws m per example.
        noise_copies: usize,
        /// Radius ε of the attack.
        epsilon: f64,
        /// Attack steps T (each of 2ε/T).
        attack_steps: usize,
        /// Epochs over which ε grows linearly to its value (none: from the
        /// start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warmup_epochs: Option<usize>,
        /// Extra weight on sensitive examples (smoothadv-cs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_sensitive: Option<Reweighting>,
    },
    /// SmoothMix (Jeong et al.): mixes clean and adversarial points.
    SmoothMix {
        /// Noise draws m per example.
        noise_copies: usize,
        /// Unbounded attack steps T.
        attack_steps: usize,
        /// Step size α of each attack step.
        attack_step_size: f64,
        /// Weight η of the mixup term.
        mix_weight: f64,
        /// Epochs over which η grows linearly to its value (none: from the
        /// start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warmup_epochs: Option<usize>,
        /// Extra weight on sensitive examples (smoothmix-cs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_sensitive: Option<Reweighting>,
    },
    /// A denoiser in front of a frozen classifier, trained to give back
    /// the clean image: mean ‖D(x + δ) − x‖² per pixel (Salman et al.'s
    /// MSE objective).
    #[serde(rename = "denoiser-mse")]
    DenoiserMse,
    /// A denoiser trained so that the frozen classifier f keeps its clean
    /// prediction: cross-entropy of f(D(x + δ)) against f(x) (Salman et
    /// al.'s stability objective), on `noise_copies` copies; with
    /// `cost_sensitive`, plus the paper's cost-sensitive hinge of
    /// macer-cs on the sensitive examples through f ∘ D
    /// (denoiser-stab-cs).
    #[serde(rename = "denoiser-stab")]
    DenoiserStab {
        /// Noisy copies per example (1 in Salman et al.'s).
        noise_copies: usize,
        /// Epochs of the MSE objective first (a warm-up; none: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mse_epochs: Option<usize>,
        /// The cost-sensitive hinge (denoiser-stab-cs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_sensitive: Option<StabSensitive>,
    },
    /// MACER through the frozen classifier: the soft smoothed classifier of
    /// f ∘ D trained on the true classes, with MACER's hinge; with
    /// `cost_sensitive`, the paper's cost-sensitive MACER (denoiser-macer-cs).
    #[serde(rename = "denoiser-macer")]
    DenoiserMacer {
        /// Noisy copies k per example.
        noise_copies: usize,
        /// Inverse temperature β of the soft smoothed classifier.
        beta: f64,
        /// Weight λ of the robustness term.
        lambda: f64,
        /// Hinge margin γ (γ₂, on normal examples, for the -cs form).
        gamma: f64,
        /// Epochs of the MSE objective first (a warm-up; none: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mse_epochs: Option<usize>,
        /// The paper's cost-sensitive hinge (denoiser-macer-cs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_sensitive: Option<MacerSensitive>,
    },
}

/// The cost-sensitive part of denoiser-stab-cs: macer-cs's hinge on the
/// sensitive examples, from the soft smoothed classifier of f ∘ D.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StabSensitive {
    /// Inverse temperature β of the soft smoothed classifier.
    pub beta: f64,
    /// Weight λ of the hinge.
    pub lambda: f64,
    /// Hinge margin γ₁ on sensitive examples.
    pub gamma_sensitive: f64,
}

/// The cost-sensitive part of gaussian-cs, smoothadv-cs and smoothmix-cs:
/// the loss of sensitive examples counts `1 + weight` times.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reweighting {
    /// Extra weight w on sensitive examples.
    pub weight: f64,
}

/// The cost-sensitive part of macer-cs: another hinge margin on sensitive
/// examples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacerSensitive {
    /// Hinge margin γ₁ on sensitive examples.
    pub gamma_sensitive: f64,
}

impl Objective {
    /// The method's name in checkpoints and messages: the objective's, with
    /// `-cs` when it is cost-sensitive (e.g. `macer-cs`).
    pub fn method_name(&self) -> String {
        let name = match self {
            Objective::Gaussian { .. } => "gaussian",
            Objective::Macer { .. } => "macer",
            Objective::SmoothAdv { .. } => "smoothadv",
            Objective::SmoothMix { .. } => "smoothmix",
            Objective::DenoiserMse => "denoiser-mse",
            Objective::DenoiserStab { .. } => "denoiser-stab",
            Objective::DenoiserMacer { .. } => "denoiser-macer",
        };
        if self.is_cost_sensitive() { format!("{name}-cs") } else { name.to_owned() }
    }

    /// Whether the objective needs a cost matrix.
    pub fn is_cost_sensitive(&self) -> bool {
        match self {
            Objective::Macer { cost_sensitive, .. } | Objective::DenoiserMacer { cost_sensitive, .. } => {
                cost_sensitive.is_some()
            }
            Objective::Gaussian { cost_sensitive }
            | Objective::SmoothAdv { cost_sensitive, .. }
            | Objective::SmoothMix { cost_sensitive, .. } => cost_sensitive.is_some(),
            Objective::DenoiserStab { cost_sensitive, .. } => cost_sensitive.is_some(),
            Objective::DenoiserMse => false,
        }
    }

    /// Whether it trains a denoiser in front of a frozen classifier rather
    /// than a classifier.
    pub fn trains_denoiser(&self) -> bool {
        matches!(self, Objective::DenoiserMse | Objective::DenoiserStab { .. } | Objective::DenoiserMacer { .. })
    }

    /// Whether epoch `epoch` (from 0) of a denoiser objective is still in
    /// its MSE warm-up.
    pub fn in_mse_warmup(&self, epoch: usize) -> bool {
        match self {
            Objective::DenoiserStab { mse_epochs, .. } | Objective::DenoiserMacer { mse_epochs, .. } => {
                mse_epochs.is_some_and(|epochs| epoch < epochs)
            }
            _ => false,
        }
    }

    /// Noisy copies per example: k of MACER, m of SmoothAdv and SmoothMix,
    /// 1 for Gaussian augmentation.
    pub fn copies(&self) -> usize {
        match self {
            Objective::Gaussian { .. } | Objective::DenoiserMse => 1,
            Objective::Macer { noise_copies, .. }
            | Objective::SmoothAdv { noise_copies, .. }
            | Objective::SmoothMix { noise_copies, .. }
            | Objective::DenoiserStab { noise_copies, .. }
            | Objective::DenoiserMacer { noise_copies, .. } => *noise_copies,
        }
    }

    /// How far the attack strength has grown by `epoch` (from 0): a linear
    /// ramp over the warm-up epochs, then 1.
    pub fn warmup(&self, epoch: usize) -> f64 {
        match self {
            Objective::SmoothAdv { warmup_epochs: Some(epochs), .. }
            | Objective::SmoothMix { warmup_epochs: Some(epochs), .. } => {
                ((epoch + 1) as f64 / *epochs as f64).min(1.0)
            }
            _ => 1.0,
        }
    }

    /// Every number, by name, with what it must be.
    fn numbers(&self) -> Vec<Number> {
        use Number::{AtLeastOne, NonNegative, Positive};
        match self {
            Objective::Gaussian { cost_sensitive } => reweighting(cost_sensitive),
            Objective::Macer { noise_copies, beta, lambda, gamma, cost_sensitive } => {
                let mut numbers = vec![
                    AtLeastOne("objective.noise_copies", *noise_copies),
                    Positive("objective.beta", *beta),
                    NonNegative("objective.lambda", *lambda),
                    NonNegative("objective.gamma", *gamma),
                ];
                numbers.extend(
                    cost_sensitive
                        .map(|cs| NonNegative("objective.cost_sensitive.gamma_sensitive", cs.gamma_sensitive)),
                );
                numbers
            }
            Objective::SmoothAdv { noise_copies, epsilon, attack_steps, warmup_epochs, cost_sensitive } => {
                let mut numbers = vec![
                    AtLeastOne("objective.noise_copies", *noise_copies),
                    Positive("objective.epsilon", *epsilon),
                    AtLeastOne("objective.attack_steps", *attack_steps),
                ];
                numbers.extend(warmup_epochs.map(|epochs| AtLeastOne("objective.warmup_epochs", epochs)));
                numbers.extend(reweighting(cost_sensitive));
                numbers
            }
            Objective::SmoothMix {
                noise_copies,
                attack_steps,
                attack_step_size,
                mix_weight,
                warmup_epochs,
                cost_sensitive,
            } => {
                let mut numbers = vec![
                    AtLeastOne("objective.noise_copies", *noise_copies),
                    AtLeastOne("objective.attack_steps", *attack_steps),
                    Positive("objective.attack_step_size", *attack_step_size),
                    NonNegative("objective.mix_weight", *mix_weight),
                ];
                numbers.extend(warmup_epochs.map(|epochs| AtLeastOne("objective.warmup_epochs", epochs)));
                numbers.extend(reweighting(cost_sensitive));
                numbers
            }
            Objective::DenoiserMse => Vec::new(),
            Objective::DenoiserStab { noise_copies, mse_epochs, cost_sensitive } => {
                let mut numbers = vec![AtLeastOne("objective.noise_copies", *noise_copies)];
                numbers.extend(mse_epochs.map(|epochs| AtLeastOne("objective.mse_epochs", epochs)));
                if let Some(cs) = cost_sensitive {
                    numbers.extend([
                        Positive("objective.cost_sensitive.beta", cs.beta),
                        NonNegative("objective.cost_sensitive.lambda", cs.lambda),
                        NonNegative("objective.cost_sensitive.gamma_sensitive", cs.gamma_sensitive),
                    ]);
                }
                numbers
            }
            Objective::DenoiserMacer { noise_copies, beta, lambda, gamma, mse_epochs, cost_sensitive } => {
                let mut numbers = vec![
                    AtLeastOne("objective.noise_copies", *noise_copies),
                    Positive("objective.beta", *beta),
                    NonNegative("objective.lambda", *lambda),
                    NonNegative("objective.gamma", *gamma),
                ];
                numbers.extend(mse_epochs.map(|epochs| AtLeastOne("objective.mse_epochs", epochs)));
                numbers.extend(
                    cost_sensitive
                        .map(|cs| NonNegative("objective.cost_sensitive.gamma_sensitive", cs.gamma_sensitive)),
                );
                numbers
            }
        }
    }
}

fn reweighting(cost_sensitive: &Option<Reweighting>) -> Vec<Number> {
    cost_sensitive.iter().map(|cs| Number::NonNegative("objective.cost_sensitive.weight", cs.weight)).collect()
}

/// The optimiser and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// SGD with momentum and weight decay.
    Sgd {
        /// Initial learning rate.
        lr: f64,
        /// Momentum (0: plain SGD).
        #[serde(default)]
        momentum: f64,
        /// L2 weight decay (0: none).
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam with weight decay.
    Adam {
        /// Initial learning rate.
        lr: f64,
        /// L2 weight decay (0: none).
        #[serde(default)]
        weight_decay: f64,
    },
}

impl OptimizerConfig {
    /// The initial learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd { lr, .. } | OptimizerConfig::Adam { lr, .. } => *lr,
        }
    }

    fn numbers(&self) -> Vec<Number> {
        use Number::{NonNegative, Positive};
        match self {
            OptimizerConfig::Sgd { lr, momentum, weight_decay } => {
                vec![
                    Positive("optimizer.lr", *lr),
                    NonNegative("optimizer.momentum", *momentum),
                    NonNegative("optimizer.weight_decay", *weight_decay),
                ]
            }
            OptimizerConfig::Adam { lr, weight_decay } => {
                vec![Positive("optimizer.lr", *lr), NonNegative("optimizer.weight_decay", *weight_decay)]
            }
        }
    }
}

/// How the learning rate changes over epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Schedule {
    /// Multiply by `gamma` at each milestone epoch.
    Multistep {
        /// Epochs (counted from 0) at which the rate drops.
        milestones: Vec<usize>,
        /// The factor, e.g. 0.1.
        gamma: f64,
    },
    /// Cosine decay from the initial rate to 0 over the run.
    Cosine,
}

impl Schedule {
    /// The learning rate of `epoch` (from 0) out of `epochs`.
    pub fn rate(&self, initial: f64, epoch: usize, epochs: usize) -> f64 {
        match self {
            Schedule::Multistep { milestones, gamma } => {
                initial * gamma.powi(milestones.iter().filter(|&&m| epoch >= m).count() as i32)
            }
            Schedule::Cosine => {
                initial * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs.max(1) as f64).cos())
            }
        }
    }
}

/// Hyperparameters of a run. Numbers that decide the result have no default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Training noise level σ.
    pub sigma: f64,
    /// How the noise is added: `gaussian` (the default), or `sound`, the
    /// copies that sound certification classifies (on the 1/255 grid,
    /// clipped to [0, 1]).
    #[serde(default, skip_serializing_if = "is_gaussian")]
    pub noise: NoiseKind,
    /// Epochs.
    pub epochs: usize,
    /// Examples per batch.
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// The objective.
    pub objective: Objective,
    /// Random crop and flip of training images; by default on for 3×32×32
    /// images (CIFAR-sized), off otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<bool>,
    /// Seed of the initial weights, batch order, augmentation and noise.
    #[serde(default)]
    pub seed: u64,
    /// Data-parallel replicas: each batch is split between this many copies
    /// of the model, on the device given and the next ones (`cuda:0`,
    /// `cuda:1`, ...; threads on the CPU), whose gradients are summed
    /// before every step. 1 (the default) trains on one device.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub replicas: usize,
    /// Keep the batch norm of an imported network to its running statistics
    /// in training (its scale and shift still learned); left out, batch
    /// norm trains on batch statistics.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub freeze_batch_norm: bool,
}

fn one() -> usize {
    1
}

/// Whether there is one replica, which configurations leave unwritten.
fn is_one(replicas: &usize) -> bool {
    *replicas == 1
}

/// Whether the noise is the default, which configurations leave unwritten.
fn is_gaussian(noise: &NoiseKind) -> bool {
    *noise == NoiseKind::Gaussian
}

/// A number of the configuration, by name, with what it must be.
enum Number {
    Positive(&'static str, f64),
    NonNegative(&'static str, f64),
    AtLeastOne(&'static str, usize),
}

/// A number of a training configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A real number that must be finite and above 0.
    #[error("{name} is {value}, expected a finite number > 0")]
    NotPositive {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A real number that must be finite and at least 0.
    #[error("{name} is {value}, expected a finite number >= 0")]
    Negative {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A count that must be at least 1.
    #[error("{name} is 0, expected at least 1")]
    Zero {
        /// The parameter.
        name: &'static str,
    },
    /// More noisy copies per optimisation step than [`MAX_COPIES_PER_STEP`].
    #[error(
        "batch_size {batch_size} with {copies} noisy copies per example is {total} copies per step, expected at most {limit}"
    )]
    TooManyCopies {
        /// The batch size.
        batch_size: usize,
        /// Noisy copies per example ([`Objective::copies`]).
        copies: usize,
        /// Their product, saturated at `usize::MAX`.
        total: usize,
        /// [`MAX_COPIES_PER_STEP`].
        limit: usize,
    },
    /// More replicas than [`MAX_REPLICAS`].
    #[error("replicas is {replicas}, expected at most {limit}")]
    TooManyReplicas {
        /// The replicas.
        replicas: usize,
        /// [`MAX_REPLICAS`].
        limit: usize,
    },
    /// More replicas than examples in a batch, which would leave one idle.
    #[error(
        "replicas is {replicas}, expected at most batch_size ({batch_size}): each replica takes a part of every batch"
    )]
    ReplicasAboveBatch {
        /// The replicas.
        replicas: usize,
        /// The batch size.
        batch_size: usize,
    },
}

/// The most noisy copies one optimisation step may classify:
/// `batch_size` × the objective's copies per example, 2¹⁶. Every copy is a
/// noisy input held with its activations (and, for the attacks, their
/// gradients) through the step: 65 536 copies are 0.8 GB of 3×32×32 inputs
/// and 39 GB of 3×224×224 ones before any activation, while the papers'
/// settings stay far below (MACER on CIFAR-10: 64 × 16 = 1 024; Gaussian
/// augmentation on ImageNet: 400 × 1). It also bounds `batch_size` and
/// `noise_copies` alone, each at least 1.
pub const MAX_COPIES_PER_STEP: usize = 1 << 16;

/// The most data-parallel replicas: 64. Each one is a copy of the model and
/// its optimiser state on its own device (or thread on the CPU); 64 covers
/// the devices of any one machine.
pub const MAX_REPLICAS: usize = 64;

/// A [`TrainConfig`] whose every number was checked: what a run takes, so
/// that a configuration is checked once, where it is read, and a run cannot
/// start from one that was not.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedConfig(TrainConfig);

impl std::ops::Deref for CheckedConfig {
    type Target = TrainConfig;

    fn deref(&self) -> &TrainConfig {
        &self.0
    }
}

impl TrainConfig {
    /// This configuration, its numbers checked ([`TrainConfig::check`]).
    ///
    /// # Errors
    /// The first number that cannot be used.
    pub fn checked(self) -> Result<CheckedConfig, ConfigError> {
        self.check()?;
        Ok(CheckedConfig(self))
    }

    /// Checks every number: the one place that knows what each must be.
    /// Sizes that decide memory are checked against their limits
    /// ([`MAX_COPIES_PER_STEP`], [`MAX_REPLICAS`]) before anything is
    /// allocated for them.
    ///
    /// # Errors
    /// The first number that cannot be used.
    pub fn check(&self) -> Result<(), ConfigError> {
        // σ = 0 with gaussian is training on clean images (a classifier for
        // denoised smoothing); every other objective smooths with σ.
        let sigma = match self.objective {
            Objective::Gaussian { .. } => Number::NonNegative("sigma", self.sigma),
            _ => Number::Positive("sigma", self.sigma),
        };
        let mut numbers = vec![
            sigma,
            Number::AtLeastOne("epochs", self.epochs),
            Number::AtLeastOne("batch_size", self.batch_size),
            Number::AtLeastOne("replicas", self.replicas),
        ];
        numbers.extend(self.optimizer.numbers());
        if let Schedule::Multistep { gamma, .. } = self.schedule {
            numbers.push(Number::Positive("schedule.gamma", gamma));
        }
        numbers.extend(self.objective.numbers());
        for number in numbers {
            match number {
                Number::Positive(name, value) if !(value.is_finite() && value > 0.0) => {
                    return Err(ConfigError::NotPositive { name, value });
                }
                Number::NonNegative(name, value) if !(value.is_finite() && value >= 0.0) => {
                    return Err(ConfigError::Negative { name, value });
                }
                Number::AtLeastOne(name, 0) => return Err(ConfigError::Zero { name }),
                _ => {}
            }
        }
        let copies = self.objective.copies();
        let total = self.batch_size.saturating_mul(copies);
        if total > MAX_COPIES_PER_STEP {
            let limit = MAX_COPIES_PER_STEP;
            return Err(ConfigError::TooManyCopies { batch_size: self.batch_size, copies, total, limit });
        }
        if self.replicas > self.batch_size {
            return Err(ConfigError::ReplicasAboveBatch { replicas: self.replicas, batch_size: self.batch_size });
        }
        if self.replicas > MAX_REPLICAS {
            return Err(ConfigError::TooManyReplicas { replicas: self.replicas, limit: MAX_REPLICAS });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(batch_size: usize, objective: Objective, replicas: usize) -> TrainConfig {
        TrainConfig {
            sigma: 0.25,
            noise: NoiseKind::Gaussian,
            epochs: 1,
            batch_size,
            optimizer: OptimizerConfig::Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.0 },
            schedule: Schedule::Cosine,
            objective,
            augment: None,
            seed: 0,
            replicas,
            freeze_batch_norm: false,
        }
    }

    fn macer(noise_copies: usize) -> Objective {
        Objective::Macer { noise_copies, beta: 16.0, lambda: 12.0, gamma: 8.0, cost_sensitive: None }
    }

    /// Sizes up to 2⁶⁴ − 1 are refused by name, with the limit, before a
    /// batch of them is built.
    #[test]
    fn sizes_beyond_the_limits_are_refused() {
        let gaussian = || Objective::Gaussian { cost_sensitive: None };
        for huge in [usize::MAX, 1 << 63, 1 << 32, (1 << 32) + 1, MAX_COPIES_PER_STEP + 1] {
            for (config, start) in [
                (config(huge, gaussian(), 1), format!("batch_size {huge} with 1 noisy copies per example")),
                (config(64, macer(huge), 1), "batch_size 64 with ".to_owned()),
                (config(huge, macer(huge), 1), format!("batch_size {huge} with {huge}")),
                (
                    config(MAX_COPIES_PER_STEP, gaussian(), huge.min(MAX_COPIES_PER_STEP)),
                    format!("replicas is {}, expected at most {MAX_REPLICAS}", huge.min(MAX_COPIES_PER_STEP)),
                ),
                (config(64, gaussian(), huge), format!("replicas is {huge}, expected at most batch_size (64)")),
            ] {
                let message = config.check().unwrap_err().to_string();
                assert!(message.starts_with(&start), "{message}");
                assert!(!message.contains('\n'), "{message}");
            }
        }
        let message = config(MAX_COPIES_PER_STEP, macer(2), 1).check().unwrap_err().to_string();
        assert!(message.ends_with(&format!("is {} copies per step, expected at most 65536", 2 * MAX_COPIES_PER_STEP)));
        // The limits themselves, and the papers' settings, are accepted.
        assert_eq!(config(MAX_COPIES_PER_STEP, gaussian(), MAX_REPLICAS).check(), Ok(()));
        assert_eq!(config(64, macer(16), 1).check(), Ok(()));
    }
}
