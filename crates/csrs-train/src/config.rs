//! What a training run does, as read from `configs/train/*.toml`.

use serde::Deserialize;

/// The training objective (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Cross-entropy on one noisy copy (Cohen et al.).
    Gaussian,
    /// Gaussian, with extra weight on sensitive examples.
    GaussianCs,
    /// MACER (Zhai et al.).
    Macer,
    /// The paper's cost-sensitive MACER.
    MacerCs,
    /// SmoothAdv (Salman et al.): train on ℓ₂-PGD points of the soft
    /// smoothed classifier.
    #[serde(rename = "smoothadv")]
    SmoothAdv,
    /// SmoothAdv, with extra weight on sensitive examples.
    #[serde(rename = "smoothadv-cs")]
    SmoothAdvCs,
    /// SmoothMix (Jeong et al.): mixes clean and adversarial points.
    #[serde(rename = "smoothmix")]
    SmoothMix,
    /// SmoothMix, with extra weight on sensitive examples.
    #[serde(rename = "smoothmix-cs")]
    SmoothMixCs,
}

impl Method {
    /// The name in configs and checkpoints.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Gaussian => "gaussian",
            Method::GaussianCs => "gaussian-cs",
            Method::Macer => "macer",
            Method::MacerCs => "macer-cs",
            Method::SmoothAdv => "smoothadv",
            Method::SmoothAdvCs => "smoothadv-cs",
            Method::SmoothMix => "smoothmix",
            Method::SmoothMixCs => "smoothmix-cs",
        }
    }

    /// Whether the method needs a cost matrix.
    pub fn is_cost_sensitive(self) -> bool {
        matches!(self, Method::GaussianCs | Method::MacerCs | Method::SmoothAdvCs | Method::SmoothMixCs)
    }

    /// Noisy copies per example: `noise_copies` (k of MACER, m of SmoothAdv
    /// and SmoothMix), or 1 for Gaussian augmentation.
    pub fn copies(self, noise_copies: usize) -> usize {
        match self {
            Method::Gaussian | Method::GaussianCs => 1,
            _ => noise_copies,
        }
    }
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum and weight decay.
    Sgd,
    /// Adam with weight decay.
    Adam,
}

/// How the learning rate changes over epochs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The objective.
    pub method: Method,
    /// Training noise level σ.
    pub sigma: f64,
    /// Epochs.
    pub epochs: usize,
    /// Examples per batch.
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: OptimizerKind,
    /// Initial learning rate.
    pub lr: f64,
    /// SGD momentum (ignored by Adam).
    #[serde(default)]
    pub momentum: f64,
    /// L2 weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Noisy copies per example: k of MACER, m of SmoothAdv and SmoothMix
    /// (ignored by Gaussian augmentation).
    #[serde(default = "defaults::noise_copies")]
    pub noise_copies: usize,
    /// Inverse temperature β.
    #[serde(default = "defaults::beta")]
    pub beta: f64,
    /// Weight λ of the robustness term.
    #[serde(default)]
    pub lambda: f64,
    /// MACER's γ (γ₂, on normal examples, for macer-cs).
    #[serde(default)]
    pub gamma: f64,
    /// γ₁ of macer-cs, on sensitive examples.
    #[serde(default)]
    pub gamma_sensitive: f64,
    /// Extra weight w on sensitive examples for gaussian-cs, smoothadv-cs
    /// and smoothmix-cs.
    #[serde(default)]
    pub cs_weight: f64,
    /// Radius ε of SmoothAdv's ℓ₂ attack.
    #[serde(default)]
    pub epsilon: f64,
    /// Steps T of the SmoothAdv and SmoothMix attacks.
    #[serde(default)]
    pub attack_steps: usize,
    /// Step size α of the SmoothMix attack (SmoothAdv steps 2ε/T).
    #[serde(default)]
    pub attack_step_size: f64,
    /// Weight η of SmoothMix's mixup term.
    #[serde(default)]
    pub mix_weight: f64,
    /// Epochs over which SmoothAdv's ε and SmoothMix's η grow linearly to
    /// their values (0: from the start).
    #[serde(default)]
    pub warmup_epochs: usize,
    /// Random crop and flip of training images; by default on for 3×32×32
    /// images (CIFAR-sized), off otherwise.
    #[serde(default)]
    pub augment: Option<bool>,
    /// Seed of the initial weights, batch order, augmentation and noise.
    #[serde(default)]
    pub seed: u64,
}

mod defaults {
    pub(super) fn noise_copies() -> usize {
        16
    }

    pub(super) fn beta() -> f64 {
        16.0
    }
}

impl TrainConfig {
    /// Checks the numbers.
    ///
    /// # Errors
    /// A message naming the first impossible value.
    pub fn check(&self) -> Result<(), String> {
        let positive = [("sigma", self.sigma), ("lr", self.lr), ("beta", self.beta)];
        if let Some((name, value)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(format!("{name} is {value}, expected a finite number > 0"));
        }
        let non_negative = [
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
            ("lambda", self.lambda),
            ("gamma", self.gamma),
            ("gamma_sensitive", self.gamma_sensitive),
            ("cs_weight", self.cs_weight),
            ("epsilon", self.epsilon),
            ("attack_step_size", self.attack_step_size),
            ("mix_weight", self.mix_weight),
        ];
        if let Some((name, value)) = non_negative.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return Err(format!("{name} is {value}, expected a finite number >= 0"));
        }
        for (name, value) in
            [("epochs", self.epochs), ("batch_size", self.batch_size), ("noise_copies", self.noise_copies)]
        {
            if value == 0 {
                return Err(format!("{name} is 0, expected at least 1"));
            }
        }
        let method = self.method.as_str();
        let needs: &[(&str, bool)] = match self.method {
            Method::SmoothAdv | Method::SmoothAdvCs => {
                &[("epsilon", self.epsilon > 0.0), ("attack_steps", self.attack_steps > 0)]
            }
            Method::SmoothMix | Method::SmoothMixCs => {
                &[("attack_steps", self.attack_steps > 0), ("attack_step_size", self.attack_step_size > 0.0)]
            }
            _ => &[],
        };
        if let Some((name, _)) = needs.iter().find(|(_, ok)| !ok) {
            return Err(format!("{method} needs {name} > 0"));
        }
        Ok(())
    }

    /// How far the attack strength has grown by `epoch` (from 0): a linear
    /// ramp over `warmup_epochs`, then 1.
    pub fn warmup(&self, epoch: usize) -> f64 {
        if self.warmup_epochs == 0 { 1.0 } else { ((epoch + 1) as f64 / self.warmup_epochs as f64).min(1.0) }
    }
}
